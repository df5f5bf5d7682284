/**
 * The head-end under chaos: a simulated day of a small fleet run through the head-end, its
 * jobs manager being the chaos cluster's replicated `jobs-manager` actor (called through
 * ActorProxy, one idempotency key per call), the other services and the integration writers
 * (SMMePlus CSV, CIM) in this process. The runner advances the day one slice per round, while
 * that round's fault is in place; at the end every reading the field produced must be in the
 * CSV files and in the CIM messages exactly once (`checkReadingsExactlyOnce`).
 */
import { type JobsManagerPort, LocalHeadend } from '../../actors/host/local-headend.js';
import { IntegrationConsumer } from '../../actors/integration/integration.js';
import type { JobsManagerEffect } from '../../actors/jobs-manager/state.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { groundTruth } from '../../actors/simulation/ground-truth.js';
import type { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import { ManualClock } from '../../core/clock.js';
import { isMeterfabricError } from '../../core/errors.js';
import { checkReadingsExactlyOnce } from '../checkers/headend-checker.js';
import { type Anomaly, type CheckResult, checkResult } from '../checkers/history.js';
import { cimReadings, csvReadings, truthReadings } from './headend-outputs.js';

export const jobsManagerService = 'jobs-manager';
const organization = 'CHAOS';
const hourMs = 3_600_000;

/**
 * The cluster's `jobs-manager` actor as the head-end's jobs manager: one call at a time, each
 * with its own idempotency key, so a call retried across a failover is applied once.
 */
export function clusterJobsManager(
  proxy: ActorProxy,
  runKey: string,
  callDeadlineMs = 120_000,
): JobsManagerPort {
  return {
    call: async (command, nowMs, callKey) => {
      const reply = await proxy.call<{ effects: JobsManagerEffect[] }>(
        jobsManagerService,
        'day',
        'command',
        { command, atMs: nowMs },
        { idempotencyKey: `${runKey}-${callKey}`, deadlineMs: callDeadlineMs },
      );
      return reply.effects;
    },
  };
}

export type HeadendDayOptions = {
  /** Where the jobs manager runs: the cluster (`clusterJobsManager`), or this process when absent. */
  jobsManager?: JobsManagerPort;
  outDir: string;
  seed: number;
  concentrators?: number;
  metersPerConcentrator?: number;
  /** Simulated time per step: each step ticks the schedules and waits for all work. */
  stepMs?: number;
};

export class HeadendDay {
  /** A fixed UTC midnight: the fleet's models, and so the ground truth, depend only on the seed. */
  readonly dayStartMs = Date.UTC(2026, 2, 10);
  /** 25 h: the day, then its daily closures and the recovery of gaps from outages. */
  readonly dayEndMs = this.dayStartMs + 25 * hourMs;
  readonly clock = new ManualClock(this.dayStartMs);
  readonly fleet: SimulatedFleet;
  readonly headend: LocalHeadend;
  /** Where the CSV files (`csv/...`) and CIM messages (`cim/...`) are written. */
  readonly outDir: string;
  private integration: IntegrationConsumer | undefined;
  private readonly stepMs: number;
  /** The first error that stopped the day (a jobs-manager call that failed after its retries). */
  private failure: string | undefined;
  private steps = 0;
  jobsManagerCalls = 0;

  constructor(options: HeadendDayOptions) {
    this.stepMs = options.stepMs ?? 15 * 60_000;
    this.outDir = options.outDir;
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
    const remote = options.jobsManager;
    this.headend = new LocalHeadend({
      clock: this.clock,
      fieldLink: (id) => this.fleet.concentrator(id),
      sink: (batch) => this.integration?.sink(batch),
      ...(remote
        ? {
            jobsManagerPort: {
              call: (command, nowMs, callKey) => {
                this.jobsManagerCalls++;
                return remote.call(command, nowMs, callKey);
              },
            } satisfies JobsManagerPort,
          }
        : {}),
    });
  }

  /** Opens the writers and provisions the fleet (registry commands, in this process). */
  async open(): Promise<void> {
    this.integration = await IntegrationConsumer.open({
      outDir: this.outDir,
      organization,
      server: 'chaos',
      clock: this.clock,
      registry: this.headend.registry,
    });
    for (const command of this.fleet.provisioning()) this.headend.applyRegistry(command);
    await this.step(this.dayStartMs);
  }

  /** Simulated instant reached so far. */
  get nowMs(): number {
    return this.clock.now();
  }

  get stopped(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Runs the day up to `fraction` (0..1] of it, step by step, each step only after the last
   * one's work (field exchanges, jobs-manager calls, writes) has finished. Never throws: a
   * failed call stops the day and becomes an anomaly at the end.
   */
  async advanceTo(fraction: number): Promise<void> {
    const targetMs = this.dayStartMs + Math.min(1, fraction) * (this.dayEndMs - this.dayStartMs);
    while (!this.failure && this.clock.now() + this.stepMs <= targetMs)
      await this.step(this.clock.now() + this.stepMs);
  }

  private async step(atMs: number): Promise<void> {
    this.clock.set(atMs);
    this.steps++;
    try {
      this.headend.tick();
      await this.headend.settle();
    } catch (err) {
      const code = isMeterfabricError(err) ? `${err.code}: ` : '';
      this.failure = `${code}${(err as Error).message}`;
    }
  }

  /** Runs the rest of the day (on the healed cluster) and flushes the writers. */
  async finish(): Promise<void> {
    await this.advanceTo(1);
    await this.integration?.flush();
  }

  /** Checks both outputs against the ground truth of the simulated time run (after finish()). */
  async check(): Promise<CheckResult[]> {
    await this.integration?.flush();
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
    const jobs = this.headend.outcomes.map((o) => o.jobId);
    const repeated = jobs.filter((id, i) => jobs.indexOf(id) !== i);
    if (repeated.length > 0)
      day.push({
        checker: 'headend-day',
        kind: 'duplicate-job-outcome',
        message: `${repeated.length} job outcomes arrived more than once (e.g. ${repeated[0]})`,
        evidence: repeated.slice(0, 20),
      });
    return [
      checkResult('headend-day', day, {
        steps: this.steps,
        jobsManagerCalls: this.jobsManagerCalls,
        jobOutcomes: jobs.length,
      }),
      checkReadingsExactlyOnce('csv', truth, await csvReadings(this.outDir, organization)),
      checkReadingsExactlyOnce('cim', truth, await cimReadings(this.outDir)),
    ];
  }
}
