import { SimulatedFleet } from '../../../actors/simulation/fleet.js';
import { groundTruth, truthKey } from '../../../actors/simulation/ground-truth.js';
import { ManualClock } from '../../../core/clock.js';

const hourMs = 3_600_000;

/**
 * The ground truth of a demo day (actors/demo/run-day.ts: the same fleet, seed 1, from
 * `dayStartMs` to the day's last step) for its modem-attached meters, keyed as
 * output-check.ts tallies the CSV and CIM files. The KNX and battery sites' values are
 * recorded inside the running sites, so days checked with it run without them.
 */
export function demoDayTruth(options: {
  concentrators: number;
  metersPerConcentrator: number;
  dayStartMs: number;
}): Map<string, number> {
  const { dayStartMs } = options;
  const fleet = new SimulatedFleet({
    concentrators: options.concentrators,
    metersPerConcentrator: options.metersPerConcentrator,
    seed: 1,
    originMs: dayStartMs,
    clock: new ManualClock(dayStartMs),
    timeZones: ['UTC', 'Europe/Rome', 'Europe/Madrid'],
    outageChance: 0.05,
    outageFromMs: dayStartMs + 2 * hourMs,
    outageToMs: dayStartMs + 20 * hourMs,
    iec62056Every: 10,
  });
  const endMs = dayStartMs + 24 * hourMs + 15 * 60_000;
  return new Map(groundTruth(fleet, dayStartMs, endMs).map((v) => [truthKey(v), v.value]));
}
