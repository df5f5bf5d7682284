import type { ScenarioSettings } from '../../adapters/battery/sim/scenarios.js';
import { unit } from './hash.js';
import { hourMs } from './meter-model.js';

/**
 * A battery site's day, pure and deterministic per (seed, site, hour): the inverter's demand
 * (night discharge, PV charging late morning to afternoon, evening discharge), the room
 * temperature, and optionally one hour in which the room overheats past the GTX2500's 55 °C
 * charge limit (the over-temperature protection raises and, an hour later, clears).
 * The BMS model in adapters/battery/bms integrates the charge; this only says what it faces.
 */

/** Demand per UTC hour for the whole stack, A (+ charge, − discharge); sums to about zero over a day. */
const demandShapeA = [
  -2, -2, -2, -1.5, -1.5, -1.5, -2, 2, 3, 4, 5, 5, 5, 4.5, 3, 1, 0.5, -1, -4, -4.5, -4, -3.5, -2.5, -2,
];
/** Room temperature per UTC hour, °C (warmest in the afternoon). */
const temperatureShapeC = [
  21, 20.5, 20, 20, 20, 20.5, 21, 22, 23, 24, 25.5, 27, 28, 28.5, 29, 28.5, 27.5, 26, 25, 24, 23, 22.5, 22,
  21.5,
];

export const overTemperatureC = 58;

export type BatteryProfileOptions = {
  seed: number;
  siteId: string;
  /** The hour (start instant) in which the room overheats, if any. */
  overTemperatureFromMs?: number;
};

export class BatteryProfile {
  /** Scales the demand shape per site (0.6–1.0): smaller houses, smaller swings. */
  readonly demandScale: number;
  readonly initialSocPct: number;

  constructor(readonly options: BatteryProfileOptions) {
    this.demandScale = 0.6 + 0.4 * unit(options.seed, options.siteId, 'bscale');
    this.initialSocPct = 45 + Math.floor(unit(options.seed, options.siteId, 'bsoc') * 15);
  }

  /** Whether the room is overheated at `atMs`. */
  overheatedAt(atMs: number): boolean {
    const from = this.options.overTemperatureFromMs;
    return from !== undefined && atMs >= from && atMs < from + hourMs;
  }

  /** What the stack faces from `atMs` on (constant within each hour). */
  settingsAt(atMs: number): ScenarioSettings {
    const hourStart = Math.floor(atMs / hourMs) * hourMs;
    const hour = new Date(hourStart).getUTCHours();
    const noiseA = (unit(this.options.seed, this.options.siteId, 'bdem', hourStart) - 0.5) * 1;
    const demandA = Math.round(((demandShapeA[hour] ?? 0) * this.demandScale + noiseA) * 10) / 10;
    const noiseC = (unit(this.options.seed, this.options.siteId, 'btmp', hourStart) - 0.5) * 2;
    const temperatureC = this.overheatedAt(atMs)
      ? overTemperatureC
      : Math.round(((temperatureShapeC[hour] ?? 22) + noiseC) * 10) / 10;
    return { demandA, temperatureC };
  }
}
