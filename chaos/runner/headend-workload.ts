/**
 * The head-end under chaos: a simulated day of a small fleet, every head-end service (registry,
 * work and jobs managers, workers, devices, TLog managers, the integration stream) behind
 * ServicePorts — the chaos cluster's replicated actors through ActorProxy — and this process
 * as the HeadendDriver holding the field links and writing SMMePlus CSV and CIM (actors/demo's
 * `driverEngine`). The runner advances the day one slice per round, while that round's fault
 * is in place; at the end every reading the field produced must be in the CSV files and in the
 * CIM messages exactly once (`checkReadingsExactlyOnce`).
 */
import { type DayEngine, driverEngine } from '../../actors/demo/day-engines.js';
import {
  type ActorAddress,
  InProcessPorts,
  type ServiceCommand,
  type ServicePorts,
} from '../../actors/host/service-ports.js';
import type { HostedCommand } from '../../actors/hosting/outbox.js';
import type { HeadendServiceName } from '../../actors/hosting/services.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { groundTruth } from '../../actors/simulation/ground-truth.js';
import { ManualClock } from '../../core/clock.js';
import { isMeterfabricError } from '../../core/errors.js';
import { checkReadingsExactlyOnce } from '../checkers/headend-checker.js';
import { type Anomaly, type CheckResult, checkResult } from '../checkers/history.js';
import { cimReadings, csvReadings, truthReadings } from './headend-outputs.js';

/** The organization `driverEngine` writes its CSV files under. */
export const headendOrganization = 'SIM';
const hourMs = 3_600_000;

/** Counts the calls that reach the services (evidence that the day really ran on them). */
class CountingPorts implements ServicePorts {
  calls = 0;
  /** Device plan reads among `calls`: the day's collections took the one-write path. */
  planReads = 0;
  /**
   * Passed through when the inner ports have it, so the day under chaos takes the production
   * one-write path for device collections (plan read, field exchange, one persisted call).
   */
  readonly plan?: ServicePorts['plan'];

  constructor(private readonly inner: ServicePorts) {
    const innerPlan = inner.plan?.bind(inner);
    if (innerPlan)
      this.plan = (address, read) => {
        this.calls++;
        this.planReads++;
        return innerPlan(address, read);
      };
  }

  deliver<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    command: Extract<HostedCommand<ServiceCommand<N>>, { type: 'deliver' }>,
    atMs: number,
    idempotencyKey: string,
  ) {
    this.calls++;
    return this.inner.deliver(address, command, atMs, idempotencyKey);
  }

  outbox<N extends HeadendServiceName>(address: ActorAddress<N>) {
    this.calls++;
    return this.inner.outbox(address);
  }

  state<N extends HeadendServiceName>(address: ActorAddress<N>) {
    this.calls++;
    return this.inner.state(address);
  }
}

export type HeadendDayOptions = {
  /** Where the services run: the cluster (`new ActorProxyPorts(proxy)`), or in this process when absent. */
  ports?: ServicePorts;
  /** Keys the singletons and prefixes device and TLog actors: one head-end per name on a cluster. */
  name: string;
  outDir: string;
  seed: number;
  concentrators?: number;
  metersPerConcentrator?: number;
  /** Simulated time per step: each step ticks the schedules and waits for all it caused. */
  stepMs?: number;
};

export class HeadendDay {
  /** A fixed UTC midnight: the fleet's models, and so the ground truth, depend only on the seed. */
  readonly dayStartMs = Date.UTC(2026, 2, 10);
  /** 25 h: the day, then its daily closures and the recovery of gaps from outages. */
  readonly dayEndMs = this.dayStartMs + 25 * hourMs;
  readonly clock = new ManualClock(this.dayStartMs);
  readonly fleet: SimulatedFleet;
  /** Where the CSV files (`csv/...`) and CIM messages (`cim/...`) are written. */
  readonly outDir: string;
  private readonly ports: CountingPorts;
  private engine: DayEngine | undefined;
  private readonly stepMs: number;
  private readonly name: string;
  /** The first error that stopped the day (a service call that failed after its retries). */
  private failure: string | undefined;
  private steps = 0;

  constructor(options: HeadendDayOptions) {
    this.stepMs = options.stepMs ?? 15 * 60_000;
    this.outDir = options.outDir;
    this.name = options.name;
    this.ports = new CountingPorts(options.ports ?? new InProcessPorts());
    this.fleet = new SimulatedFleet({
      concentrators: options.concentrators ?? 3,
      metersPerConcentrator: options.metersPerConcentrator ?? 2,
      seed: options.seed,
      originMs: this.dayStartMs,
      clock: this.clock,
      timeZones: ['Europe/Rome', 'UTC'],
      // Outages make the head-end recover gaps later in the day: more jobs, more retries.
      outageChance: 0.5,
      outageFromMs: this.dayStartMs + 2 * hourMs,
      outageToMs: this.dayStartMs + 20 * hourMs,
      iec62056Every: 2,
      alarmPerHour: 0.05,
    });
  }

  get serviceCalls(): number {
    return this.ports.calls;
  }

  /** Opens the writers, provisions the fleet through the registry actor, runs the first step. */
  async open(): Promise<void> {
    this.engine = await driverEngine({
      outDir: this.outDir,
      clock: this.clock,
      fleet: this.fleet,
      onWritten: () => {},
      ports: this.ports,
      name: this.name,
    });
    await this.guard(() => (this.engine as DayEngine).provision(this.fleet.provisioning()));
    await this.step(this.dayStartMs);
  }

  /** Simulated instant reached so far. */
  get nowMs(): number {
    return this.clock.now();
  }

  /**
   * Runs the day up to `fraction` (0..1] of it, step by step, each step only after the last
   * one's work (field exchanges, service calls, writes) has finished. Never throws: a failed
   * call stops the day and becomes an anomaly at the end.
   */
  async advanceTo(fraction: number): Promise<void> {
    const targetMs = this.dayStartMs + Math.min(1, fraction) * (this.dayEndMs - this.dayStartMs);
    while (!this.failure && this.clock.now() + this.stepMs <= targetMs)
      await this.step(this.clock.now() + this.stepMs);
  }

  private async step(atMs: number): Promise<void> {
    if (this.failure) return;
    this.clock.set(atMs);
    this.steps++;
    await this.guard(() => (this.engine as DayEngine).step(atMs));
  }

  private async guard(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      const code = isMeterfabricError(err) ? `${err.code}: ` : '';
      this.failure ??= `${code}${(err as Error).message}`;
    }
  }

  /** Runs the rest of the day (on the healed cluster) and flushes the writers. */
  async finish(): Promise<void> {
    await this.advanceTo(1);
    if (!this.failure) await this.guard(async () => void (await this.engine?.finish(this.clock.now())));
  }

  /** Checks both outputs against the ground truth of the simulated time run (after finish()). */
  async check(): Promise<CheckResult[]> {
    const truth = truthReadings(groundTruth(this.fleet, this.dayStartMs, this.clock.now()));
    const day: Anomaly[] = this.failure
      ? [
          {
            checker: 'headend-day',
            kind: 'headend-stalled',
            message: `the head-end day stopped at ${new Date(this.clock.now()).toISOString()}: ${this.failure}`,
            evidence: { atMs: this.clock.now(), error: this.failure },
          },
        ]
      : [];
    return [
      checkResult('headend-day', day, {
        steps: this.steps,
        serviceCalls: this.ports.calls,
        planReads: this.ports.planReads,
        jobsFinished: this.engine?.jobsFinished() ?? 0,
      }),
      checkReadingsExactlyOnce('csv', truth, await csvReadings(this.outDir, headendOrganization)),
      checkReadingsExactlyOnce('cim', truth, await cimReadings(this.outDir)),
    ];
  }
}
