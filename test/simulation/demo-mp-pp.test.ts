import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatSummary, runDemoDay } from '../../actors/demo/run-day.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { groundTruth } from '../../actors/simulation/ground-truth.js';
import { ManualClock } from '../../core/clock.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('demo day with maximum demand and prepayment meters', () => {
  it('writes an MP_ row per meter-day and PP_ rows for the prepayment meters, and the summary lists both', async () => {
    const outDir = join(await mkdtemp(join(tmpdir(), 'mf-demo-mp-')), 'out');
    dirs.push(join(outDir, '..'));
    const dayStartMs = Date.UTC(2026, 2, 10);
    const options = { concentrators: 10, metersPerConcentrator: 4 };
    const summary = await runDemoDay({
      outDir,
      ...options,
      speed: 1e9,
      dayStartMs,
      knxSites: 0,
      batterySites: 0,
      progress: () => undefined,
    });
    // The same fleet (same seed and origin) as the demo's, for the expected counts.
    const fleet = new SimulatedFleet({
      ...options,
      seed: 1,
      originMs: dayStartMs,
      clock: new ManualClock(dayStartMs),
      timeZones: ['UTC', 'Europe/Rome', 'Europe/Madrid'],
    });
    const prepaid = [...fleet.meters.values()].filter((m) => m.meter.prepayment).length;
    expect(prepaid).toBeGreaterThan(0);
    const closures = groundTruth(fleet, dayStartMs, dayStartMs + 24 * 3_600_000).filter(
      (v) => v.kind === 'dailyClosure' && v.code === '1.8.0',
    ).length;
    // Every meter closes the day once (UTC, Rome and Madrid midnights all fall in the day).
    expect(closures).toBe(40);
    expect(summary.rowsByFileKind.MP).toBe(40);
    expect(summary.rowsByFileKind.PP).toBe(2 * prepaid);
    expect(formatSummary(summary)).toMatch(new RegExp(`rows per file kind: .*MP 40.*PP ${2 * prepaid}`));
    const readingDir = join(outDir, 'SIM', 'reading');
    const files = await readdir(readingDir);
    expect(files.some((f) => /^MP_2026-03-1\d_n1\.csv$/.test(f))).toBe(true);
    expect(files.some((f) => /^PP_2026-03-1\d_n1\.csv$/.test(f))).toBe(true);
  });
});
