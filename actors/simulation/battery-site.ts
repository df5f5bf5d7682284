import type { StackStatus } from '../../adapters/battery/bms/stack.js';
import { BatterySiteSimulator } from '../../adapters/battery/sim/simulator.js';
import type { Clock } from '../../core/clock.js';
import { BatterySiteFieldLink } from '../device/battery-field-link.js';
import type { FieldLink, FieldRequest, FieldResponse } from '../device/field.js';
import type { BatteryProfile } from './battery-profile.js';
import type { Outage } from './concentrator.js';

/**
 * A battery site of the fleet: the GTX2500 site simulator (adapters/battery/sim) behind a
 * CANET gateway on a free loopback TCP port, watched through BatterySiteFieldLink (a
 * BatteryMonitor). The simulator is driven by the fleet's clock: each collection request
 * first advances it to the request's instant (the BMS integrates the charge and evaluates its
 * protections against the site's seeded profile) and it broadcasts once, so the values are
 * deterministic per seed. Every broadcast state is recorded as it goes on the wire: the
 * site's ground truth. Started on the first request.
 */

export type BatterySiteOptions = {
  /** The concentrator id of the site. */
  id: string;
  /** The battery's id (readings carry it as meterSerial). */
  deviceId: string;
  timeZone: string;
  profile: BatteryProfile;
  clock: Clock;
  /** Longest wait for a broadcast cycle (loopback TCP; generous for loaded machines). */
  settleMs?: number;
  /** Windows in which the site cannot be reached (the battery goes on working). */
  outages?: Outage[];
};

/** One broadcast as the CAN frames carry it (0x355 whole percent, 0x356 0.01 V, 0.1 A, 0.1 °C). */
export type BatterySample = {
  timestampMs: number;
  stateOfCharge: number;
  stateOfHealth: number;
  voltage: number;
  current: number;
  temperature: number;
  overTemperature: boolean;
};

export function sampleOf(status: StackStatus, timestampMs: number): BatterySample {
  const p = status.protections;
  return {
    timestampMs,
    stateOfCharge: Math.round(status.socPct),
    stateOfHealth: Math.round(status.sohPct),
    voltage: Math.round(status.voltageV / 0.01) / 100,
    current: Math.round(status.currentA / 0.1) / 10,
    temperature: Math.round(status.temperatureC / 0.1) / 10,
    overTemperature: p.chargeOverTemperature || p.dischargeOverTemperature,
  };
}

/** Bound on the ground-truth record (a day of hourly samples is a few dozen a site). */
const maxRecorded = 1_000_000;

export class SimulatedBatterySite implements FieldLink {
  readonly id: string;
  readonly deviceId: string;
  readonly timeZone: string;
  /** Every state the simulator broadcast, in order (the ground truth). */
  readonly samples: BatterySample[] = [];
  /** Broadcasts after the record was full (then the truth is incomplete: tests check it is 0). */
  unrecorded = 0;
  readonly outages: readonly Outage[];
  private simulator: BatterySiteSimulator | undefined;
  private link: BatterySiteFieldLink | undefined;
  private starting: Promise<{ simulator: BatterySiteSimulator; link: BatterySiteFieldLink }> | undefined;
  private stopped = false;

  constructor(private readonly options: BatterySiteOptions) {
    this.id = options.id;
    this.deviceId = options.deviceId;
    this.timeZone = options.timeZone;
    this.outages = options.outages ?? [];
  }

  unreachableAt(ms: number): boolean {
    return this.outages.some((o) => ms >= o.fromMs && ms < o.toMs);
  }

  async execute(request: FieldRequest): Promise<FieldResponse> {
    const { simulator, link } = await this.started();
    const nowMs = this.options.clock.now();
    if (this.unreachableAt(nowMs)) {
      // The battery goes on (its charge integrates at the instants it is asked for, as
      // always); nothing reaches the head-end.
      simulator.setSilent(true);
      simulator.advanceTo(nowMs);
      simulator.setSilent(false);
      throw new Error(`battery site ${this.id} is not reachable (no route to host)`);
    }
    if (request.type !== 'control') {
      // Broadcast first, then sample: the link waits for this very cycle. A silenced pack
      // puts nothing on the wire, so nothing is recorded.
      const status = simulator.advanceTo(nowMs);
      if (simulator.isSilent) {
        // nothing went on the wire
      } else if (this.samples.length >= maxRecorded) this.unrecorded++;
      else this.samples.push(sampleOf(status, nowMs));
    }
    return link.execute(request);
  }

  private started(): Promise<{ simulator: BatterySiteSimulator; link: BatterySiteFieldLink }> {
    if (this.stopped) return Promise.reject(new Error(`battery site ${this.id} is stopped`));
    if (!this.starting) {
      this.starting = this.start().catch((err: unknown) => {
        this.starting = undefined;
        throw err;
      });
    }
    return this.starting;
  }

  private async start(): Promise<{ simulator: BatterySiteSimulator; link: BatterySiteFieldLink }> {
    const profile = this.options.profile;
    const simulator = await BatterySiteSimulator.start({
      host: '127.0.0.1',
      canPort: 0,
      packCount: 1,
      initialSocPct: profile.initialSocPct,
      startMs: this.options.clock.now(),
      driven: true,
      settingsAt: (atMs) => profile.settingsAt(atMs),
      maxClients: 2,
    });
    this.simulator = simulator;
    const link = new BatterySiteFieldLink({
      deviceId: this.deviceId,
      gateway: simulator.canAddress,
      settleMs: this.options.settleMs ?? 10_000,
      stampClock: this.options.clock,
      // The driven simulator broadcasts only when the fleet advances it; its silence between
      // requests is not a lost link.
      monitor: { linkTimeoutMs: 86_400_000, heartbeatIntervalMs: 1_000 },
      reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
    });
    this.link = link;
    link.start();
    // The inverter keep-alive reaching the simulator proves it holds our connection.
    const deadline = Date.now() + 10_000;
    while (simulator.heartbeatsSeen === 0) {
      if (this.stopped || Date.now() > deadline) {
        await this.close();
        throw new Error(`battery site ${this.id} is not reachable: no connection within 10 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { simulator, link };
  }

  /** Silences the pack (as when it misses the inverter's keep-alive): requests then fail as unreachable. */
  async setSilent(silent: boolean): Promise<void> {
    const { simulator } = await this.started();
    simulator.setSilent(silent);
  }

  /** Closes the monitor's connection and the simulator's server (safe when never started). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting?.catch(() => undefined);
    await this.close();
  }

  private async close(): Promise<void> {
    await this.link?.stop();
    this.link = undefined;
    await this.simulator?.stop();
    this.simulator = undefined;
  }
}
