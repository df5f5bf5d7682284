import { parseGroupAddress } from '../address.js';
import { type GroupPayload, groupPayload, groupService, groupTelegram, type LDataFrame } from '../cemi.js';
import { CemiMessageCode } from '../constants.js';
import { type DptValue, decodeDpt, encodeDpt } from '../dpt.js';

/**
 * A simulated KNX line with metering devices, as a pure model with an injected time: energy
 * counters advance with the configured power, a load-shedding relay (DPT 1.001) cuts the power,
 * devices answer GroupValue_Read and send their values cyclically. Every GroupValue_Write seen
 * on the bus is recorded so demos and tests can see what clients sent.
 */

export type SimulatedMeterConfig = {
  serial: string;
  /** Individual address of the meter on the bus, e.g. 0x1105 (1.1.5). */
  individualAddress: number;
  /** Active energy counter: 13.010 (Wh) or 13.013 (kWh). */
  energy?: { groupAddress: string; dpt: '13.010' | '13.013' };
  /** Active power, DPT 14.056 (W). */
  power?: { groupAddress: string };
  /** Load-shedding relay, DPT 1.001 (true = connected). */
  relay?: { groupAddress: string };
  /** Phase voltage, DPT 14.027 (V). */
  voltage?: { groupAddress: string };
  /** Voltage at an instant, V (default 230): lets a fleet vary it deterministically. */
  voltageAt?: (atMs: number) => number;
  /** Mean power drawn while connected, W. */
  powerW: number;
  /**
   * Power drawn from an instant on, W, constant within each clock hour (a load shape); the
   * energy counter integrates it hour by hour. Default: powerW throughout.
   */
  powerAt?: (atMs: number) => number;
  /** Starting energy, Wh. */
  initialEnergyWh?: number;
};

export type RecordedWrite = { destination: number; source: number; payload: GroupPayload; atMs: number };

/** A value a simulated device put on the bus (answer or cyclic send), before encoding. */
export type SentValue = {
  serial: string;
  role: 'energy' | 'power' | 'relay' | 'voltage';
  groupAddress: number;
  dpt: string;
  value: DptValue;
  atMs: number;
};

type MeterState = {
  config: SimulatedMeterConfig;
  energyWh: number;
  relayClosed: boolean;
  lastUpdateMs: number;
};

type Datapoint = { meter: MeterState; role: SentValue['role']; dpt: string };

/** Upper bound of the write log (a demo may run for days). */
const MAX_RECORDED_WRITES = 1_000;

export class SimulatedBus {
  private readonly meters: MeterState[];
  private readonly datapoints = new Map<number, Datapoint>();
  readonly writes: RecordedWrite[] = [];
  /** Sees every value the devices send: the ground-truth record of a simulated fleet. */
  onValue: ((sent: SentValue) => void) | undefined;
  private nextCyclicMs: number;

  constructor(
    configs: readonly SimulatedMeterConfig[],
    startMs: number,
    private readonly cyclicIntervalMs = 0,
  ) {
    this.meters = configs.map((config) => ({
      config,
      energyWh: config.initialEnergyWh ?? 0,
      relayClosed: true,
      lastUpdateMs: startMs,
    }));
    for (const meter of this.meters) {
      const { energy, power, relay, voltage } = meter.config;
      if (energy)
        this.datapoints.set(parseGroupAddress(energy.groupAddress), {
          meter,
          role: 'energy',
          dpt: energy.dpt,
        });
      if (power)
        this.datapoints.set(parseGroupAddress(power.groupAddress), { meter, role: 'power', dpt: '14.056' });
      if (relay)
        this.datapoints.set(parseGroupAddress(relay.groupAddress), { meter, role: 'relay', dpt: '1.001' });
      if (voltage)
        this.datapoints.set(parseGroupAddress(voltage.groupAddress), {
          meter,
          role: 'voltage',
          dpt: '14.027',
        });
    }
    this.nextCyclicMs = startMs + cyclicIntervalMs;
  }

  private advance(nowMs: number): void {
    for (const m of this.meters) {
      const powerAt = m.config.powerAt;
      if (!powerAt) {
        const elapsedMs = Math.max(0, nowMs - m.lastUpdateMs);
        if (m.relayClosed) m.energyWh += (m.config.powerW * elapsedMs) / 3_600_000;
      } else if (m.relayClosed) {
        // Hour by hour, so the counter does not depend on when it happens to be read.
        for (let cursor = m.lastUpdateMs; cursor < nowMs; ) {
          const end = Math.min(nowMs, (Math.floor(cursor / 3_600_000) + 1) * 3_600_000);
          m.energyWh += (powerAt(cursor) * (end - cursor)) / 3_600_000;
          cursor = end;
        }
      }
      m.lastUpdateMs = nowMs;
    }
  }

  private powerOf(m: MeterState, nowMs: number): number {
    return m.relayClosed ? (m.config.powerAt?.(nowMs) ?? m.config.powerW) : 0;
  }

  private value(dp: Datapoint, nowMs: number): DptValue {
    const m = dp.meter;
    if (dp.role === 'energy') return Math.floor(dp.dpt === '13.013' ? m.energyWh / 1000 : m.energyWh);
    if (dp.role === 'power') return this.powerOf(m, nowMs);
    if (dp.role === 'voltage') return m.config.voltageAt?.(nowMs) ?? 230;
    return m.relayClosed;
  }

  private telegram(
    service: 'GroupValue_Response' | 'GroupValue_Write',
    ga: number,
    dp: Datapoint,
    nowMs: number,
  ): LDataFrame {
    const value = this.value(dp, nowMs);
    this.onValue?.({
      serial: dp.meter.config.serial,
      role: dp.role,
      groupAddress: ga,
      dpt: dp.dpt,
      value,
      atMs: nowMs,
    });
    return groupTelegram(service, ga, encodeDpt(dp.dpt, value), {
      messageCode: CemiMessageCode.L_DATA_IND,
      source: dp.meter.config.individualAddress,
      hopCount: 5,
    });
  }

  /** A telegram arrived on the bus; returns what the simulated devices answer. */
  handle(frame: LDataFrame, nowMs: number): LDataFrame[] {
    this.advance(nowMs);
    const service = groupService(frame.tpdu);
    if (!frame.groupDestination || !service) return [];
    const dp = this.datapoints.get(frame.destination);
    if (service === 'GroupValue_Write') {
      const payload = groupPayload(frame.tpdu)!;
      if (this.writes.length >= MAX_RECORDED_WRITES) this.writes.shift();
      this.writes.push({ destination: frame.destination, source: frame.source, payload, atMs: nowMs });
      if (dp?.role === 'relay') dp.meter.relayClosed = decodeDpt('1.001', payload) === true;
      return [];
    }
    if (service === 'GroupValue_Read' && dp)
      return [this.telegram('GroupValue_Response', frame.destination, dp, nowMs)];
    return [];
  }

  /** Cyclic sending of every meter value (as real KNX meters do); returns due telegrams. */
  tick(nowMs: number): LDataFrame[] {
    this.advance(nowMs);
    if (this.cyclicIntervalMs <= 0 || nowMs < this.nextCyclicMs) return [];
    this.nextCyclicMs = nowMs + this.cyclicIntervalMs;
    return [...this.datapoints].map(([ga, dp]) => this.telegram('GroupValue_Write', ga, dp, nowMs));
  }

  nextDeadlineMs(): number | undefined {
    return this.cyclicIntervalMs > 0 ? this.nextCyclicMs : undefined;
  }

  /** Current state of one meter (for tests and the demo's status output). */
  meter(serial: string): { energyWh: number; relayClosed: boolean; powerW: number } | undefined {
    const m = this.meters.find((x) => x.config.serial === serial);
    if (!m) return undefined;
    return { energyWh: m.energyWh, relayClosed: m.relayClosed, powerW: this.powerOf(m, m.lastUpdateMs) };
  }

  /** Brings the counters up to `nowMs`. */
  sync(nowMs: number): void {
    this.advance(nowMs);
  }
}
