import { type HashPrefix, hashPrefix, unit, unitAfter } from './hash.js';
import type { PrepaymentAccount } from './prepayment.js';

/**
 * One simulated electricity meter, pure and deterministic: hourly consumption follows a
 * residential daily curve with per-hour noise, accumulates into six tariff registers (by UTC
 * hour band) plus their total, and stops while the relay is open. Voltage variations and
 * status-word alarms occur at seeded instants. Maximum demand is the highest 15-minute average
 * power of a period (the quarters share each hour's consumption by seeded weights). Everything is a function of (seed, serial,
 * instant) and the relay history, so ground truth can be enumerated after a run.
 */

export const hourMs = 3_600_000;
/** Demand integration period: maximum demand is the highest 15-minute average power. */
export const demandPeriodMs = 15 * 60_000;

/** Relative consumption per UTC hour of the day (mean about 1). */
export const dailyShape = [
  0.55, 0.45, 0.4, 0.4, 0.42, 0.5, 0.8, 1.2, 1.3, 1.0, 0.9, 0.95, 1.1, 1.0, 0.9, 0.9, 1.0, 1.3, 1.7, 1.9, 1.7,
  1.4, 1.0, 0.7,
];
/** Tariff band (0..5 = T1..T6) per UTC hour of the day. */
const tariffBandOfHour = [0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 1, 0];

export const tariffCount = 6;

const dayMs = 86_400_000;

/**
 * `new Date(ms).getUTCHours()` for an integer instant, without a Date per value (the meter
 * model asks for every hour it simulates).
 */
export function utcHourOf(ms: number): number {
  return Math.floor((((ms % dayMs) + dayMs) % dayMs) / hourMs);
}
export const nominalVoltageV = 230;

/** Status word bits the simulation raises (alarms configured to generate SWE events). */
export const statusWordAlarmBits: readonly { bit: number; name: string }[] = [
  { bit: 2, name: 'magnetic tamper' },
  { bit: 5, name: 'terminal cover opened' },
  { bit: 7, name: 'clock invalid' },
  { bit: 11, name: 'reverse current' },
];

export type RelayState = 'closed' | 'open';

export type MeterModelOptions = {
  serial: string;
  seed: number;
  /** Hour-aligned instant from which the meter measures; no values exist before it. */
  originMs: number;
  /** Chance per meter-hour of a voltage variation and of a status-word alarm. */
  voltageVariationPerHour?: number;
  alarmPerHour?: number;
};

/** Maximum demand over a period: the highest 15-minute average power and the end of that quarter. */
export type MaximumDemand = { valueW: number; timestampMs: number };

export type VoltageVariation = { timestampMs: number; valueV: number; type: 'sag' | 'swell' };
export type StatusAlarm = { timestampMs: number; bit: number; name: string };

export class MeterModel {
  readonly serial: string;
  readonly originMs: number;
  readonly averageW: number;
  readonly startRegistersWh: number[];
  /** Relay changes in time order; the relay is closed before the first. */
  readonly relayHistory: { atMs: number; state: RelayState }[] = [];
  /** Times the relay physically moved: a repeated order must not add to it. */
  relayOperations = 0;
  powerLimitW: number | undefined;
  /** Payment-metering registers when this is a prepayment meter (set by the fleet). */
  prepayment: PrepaymentAccount | undefined;
  private readonly registerCache = new Map<number, number[]>();
  /** The hash of (seed, serial): every seeded value of this meter continues from it. */
  private readonly seeded: HashPrefix;

  constructor(private readonly options: MeterModelOptions) {
    if (options.originMs % hourMs !== 0) throw new Error('meter originMs must be on an hour boundary');
    this.serial = options.serial;
    this.seeded = hashPrefix(options.seed, options.serial);
    this.originMs = options.originMs;
    this.averageW = 150 + Math.floor(unit(options.seed, options.serial, 'avg') * 850);
    this.startRegistersWh = Array.from({ length: tariffCount }, (_, t) =>
      Math.floor(unit(options.seed, options.serial, 'start', t) * 5_000_000),
    );
  }

  relayAt(ms: number): RelayState {
    let state: RelayState = 'closed';
    for (const change of this.relayHistory) {
      if (change.atMs > ms) break;
      state = change.state;
    }
    return state;
  }

  /** Opens or closes the relay at `atMs`; answers whether it moved (an order for the current state does not). */
  operateRelay(target: RelayState, atMs: number): boolean {
    const last = this.relayHistory.at(-1);
    if (last && atMs < last.atMs) throw new Error('relay operations must come in time order');
    if (this.relayAt(atMs) === target) return false;
    this.relayHistory.push({ atMs, state: target });
    this.relayOperations += 1;
    this.registerCache.clear();
    return true;
  }

  /** Milliseconds of [fromMs, toMs) with the relay closed. */
  private closedMs(fromMs: number, toMs: number): number {
    let closed = 0;
    let cursor = fromMs;
    let state = this.relayAt(fromMs);
    for (const change of this.relayHistory) {
      if (change.atMs <= fromMs) continue;
      if (change.atMs >= toMs) break;
      if (state === 'closed') closed += change.atMs - cursor;
      cursor = change.atMs;
      state = change.state;
    }
    if (state === 'closed') closed += toMs - cursor;
    return closed;
  }

  private baseIntervalWh(hourEndMs: number): number {
    const hourOfDay = utcHourOf(hourEndMs - hourMs);
    const noise = 0.75 + 0.5 * unitAfter(this.seeded, 'lp', hourEndMs);
    return Math.round(this.averageW * (dailyShape[hourOfDay] ?? 1) * noise);
  }

  /** Energy imported in the hour ending at `hourEndMs`, Wh; undefined before the origin. */
  intervalWh(hourEndMs: number): number | undefined {
    if (hourEndMs % hourMs !== 0 || hourEndMs <= this.originMs) return undefined;
    const closed = this.closedMs(hourEndMs - hourMs, hourEndMs);
    return Math.floor((this.baseIntervalWh(hourEndMs) * closed) / hourMs);
  }

  /** Hour ends in (afterMs, toMs], never before the first full hour after the origin. */
  intervalEnds(afterMs: number, toMs: number): number[] {
    const first = Math.max(Math.floor(afterMs / hourMs) * hourMs + hourMs, this.originMs + hourMs);
    const ends: number[] = [];
    for (let t = first; t <= toMs; t += hourMs) ends.push(t);
    return ends;
  }

  /** The six tariff registers at `ms`, Wh (integers); index 0 is T1. */
  registersAt(ms: number): number[] {
    const at = Math.max(ms, this.originMs);
    const hourStart = Math.floor(at / hourMs) * hourMs;
    const registers = [...this.registersAtHour(hourStart)];
    if (at > hourStart) {
      const band = tariffBandOfHour[utcHourOf(hourStart)] ?? 0;
      const partial = Math.floor(
        (this.baseIntervalWh(hourStart + hourMs) * this.closedMs(hourStart, at)) / hourMs,
      );
      registers[band] = (registers[band] ?? 0) + Math.min(partial, this.intervalWh(hourStart + hourMs) ?? 0);
    }
    return registers;
  }

  totalAt(ms: number): number {
    return this.registersAt(ms).reduce((a, b) => a + b, 0);
  }

  private registersAtHour(hourBoundaryMs: number): number[] {
    if (hourBoundaryMs <= this.originMs) return this.startRegistersWh;
    const cached = this.registerCache.get(hourBoundaryMs);
    if (cached) return cached;
    // Walk back to the nearest cached hour (or the origin), then forward; iterative so a long
    // run cannot overflow the stack.
    let from = hourBoundaryMs;
    while (from > this.originMs && !this.registerCache.has(from)) from -= hourMs;
    let registers =
      from <= this.originMs ? this.startRegistersWh : (this.registerCache.get(from) as number[]);
    for (let end = Math.max(from, this.originMs) + hourMs; end <= hourBoundaryMs; end += hourMs) {
      const next = [...registers];
      const band = tariffBandOfHour[utcHourOf(end - hourMs)] ?? 0;
      next[band] = (next[band] ?? 0) + (this.intervalWh(end) ?? 0);
      this.registerCache.set(end, next);
      registers = next;
    }
    return registers;
  }

  /**
   * Average power in W over the quarter hour ending at `quarterEndMs`: the hour's consumption
   * shared over its four quarters by seeded weights (so demand varies inside the hour), zero
   * while the relay is open. Undefined before the origin or off the 15-minute grid.
   */
  quarterDemandW(quarterEndMs: number): number | undefined {
    if (quarterEndMs % demandPeriodMs !== 0 || quarterEndMs <= this.originMs) return undefined;
    const hourStart = Math.floor((quarterEndMs - 1) / hourMs) * hourMs;
    this.hashQuarters(hourStart);
    return this.quarterDemandInHour(quarterEndMs, hourStart);
  }

  /** The last hour whose quarter weights `hashQuarters` holds (reused: no arrays per hour). */
  private quartersHourStart = Number.NaN;
  private readonly quarterWeights = new Float64Array(4);
  private quarterWeightSum = 0;
  private quartersHourWh = 0;

  /** The four quarters' seeded weights of the hour starting at `hourStart`, their sum and the hour's energy. */
  private hashQuarters(hourStart: number): void {
    if (hourStart === this.quartersHourStart) return;
    let sum = 0;
    for (let q = 0; q < 4; q++) {
      const weight = 0.7 + 0.6 * unitAfter(this.seeded, 'q', hourStart + q * demandPeriodMs);
      this.quarterWeights[q] = weight;
      sum += weight;
    }
    this.quarterWeightSum = sum;
    this.quartersHourWh = this.baseIntervalWh(hourStart + hourMs);
    this.quartersHourStart = hourStart;
  }

  /** Average power of the quarter ending at `quarterEndMs` of the hour `hashQuarters` holds. */
  private quarterDemandInHour(quarterEndMs: number, hourStart: number): number {
    const q = Math.round((quarterEndMs - demandPeriodMs - hourStart) / demandPeriodMs);
    const closed = this.closedMs(quarterEndMs - demandPeriodMs, quarterEndMs) / demandPeriodMs;
    // The hour's energy in Wh is its average power in W.
    return Math.round(
      ((this.quartersHourWh * 4 * (this.quarterWeights[q] ?? 1)) / this.quarterWeightSum) * closed,
    );
  }

  /**
   * Maximum demand over the quarters ending in (afterMs, toMs] (a meter's daily register:
   * after = the previous local midnight, to = this one); the earliest quarter wins a tie.
   * Undefined when no quarter of the period lies after the origin. Each hour's weights are
   * hashed once for its four quarters (the same values as `quarterDemandW`).
   */
  maximumDemand(afterMs: number, toMs: number): MaximumDemand | undefined {
    const from = Math.max(afterMs, this.originMs);
    let bestW = -1;
    let bestAtMs = 0;
    for (
      let end = Math.floor(from / demandPeriodMs) * demandPeriodMs + demandPeriodMs;
      end <= toMs;
      end += demandPeriodMs
    ) {
      if (end <= this.originMs) continue;
      const hourStart = Math.floor((end - 1) / hourMs) * hourMs;
      this.hashQuarters(hourStart);
      const valueW = this.quarterDemandInHour(end, hourStart);
      if (bestW < 0 || valueW > bestW) {
        bestW = valueW;
        bestAtMs = end;
      }
    }
    return bestW < 0 ? undefined : { valueW: bestW, timestampMs: bestAtMs };
  }

  /** Voltage variations (outside 230 V +/- 10 %) with instants in (afterMs, toMs]. */
  voltageVariations(afterMs: number, toMs: number): VoltageVariation[] {
    const chance = this.options.voltageVariationPerHour ?? 0.03;
    const out: VoltageVariation[] = [];
    for (const end of this.intervalEnds(afterMs - hourMs, toMs)) {
      const start = end - hourMs;
      if (unitAfter(this.seeded, 'vv', start) >= chance) continue;
      const timestampMs = start + Math.floor(unitAfter(this.seeded, 'vvt', start) * 3600) * 1000;
      if (timestampMs <= afterMs || timestampMs > toMs) continue;
      const swell = unitAfter(this.seeded, 'vvk', start) < 0.4;
      const depth = unitAfter(this.seeded, 'vvd', start);
      const valueV = swell
        ? Math.round((254 + depth * 12) * 10) / 10
        : Math.round((185 + depth * 20) * 10) / 10;
      out.push({ timestampMs, valueV, type: swell ? 'swell' : 'sag' });
    }
    return out;
  }

  /** Status-word alarms with instants in (afterMs, toMs]. */
  statusAlarms(afterMs: number, toMs: number): StatusAlarm[] {
    const chance = this.options.alarmPerHour ?? 0.004;
    const out: StatusAlarm[] = [];
    for (const end of this.intervalEnds(afterMs - hourMs, toMs)) {
      const start = end - hourMs;
      if (unitAfter(this.seeded, 'sw', start) >= chance) continue;
      const timestampMs = start + Math.floor(unitAfter(this.seeded, 'swt', start) * 3600) * 1000;
      if (timestampMs <= afterMs || timestampMs > toMs) continue;
      const alarm =
        statusWordAlarmBits[Math.floor(unitAfter(this.seeded, 'swb', start) * statusWordAlarmBits.length)];
      if (alarm) out.push({ timestampMs, bit: alarm.bit, name: alarm.name });
    }
    return out;
  }
}
