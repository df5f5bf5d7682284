import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatSummary, runDemoDay } from '../../actors/demo/run-day.js';
import { InProcessPorts } from '../../actors/host/service-ports.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { groundTruth, truthKey } from '../../actors/simulation/ground-truth.js';
import { ManualClock } from '../../core/clock.js';
import { cimTally, compare, csvTally } from './output-check.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('demo day', () => {
  it('writes one day of CSV and CIM output under out/ and summarises it', async () => {
    const outDir = join(await mkdtemp(join(tmpdir(), 'mf-demo-')), 'out');
    dirs.push(join(outDir, '..'));
    const lines: string[] = [];
    const summary = await runDemoDay({
      outDir,
      concentrators: 3,
      metersPerConcentrator: 2,
      speed: 1e9,
      dayStartMs: Date.UTC(2026, 2, 10),
      progress: (line) => lines.push(line),
    });
    expect(summary.rowsByFileKind.S).toBe(3 * 2 * 24);
    expect(summary.rowsByFileKind.DC).toBe(3 * 2);
    expect(summary.messagesByNoun.MeterReadings).toBeGreaterThan(0);
    expect(lines.filter((l) => l.includes('readings')).length).toBeGreaterThanOrEqual(24);
    expect(formatSummary(summary)).toMatch(/rows per file kind: .*S 144/);
    expect((await readdir(join(outDir, 'SIM', 'pload'))).some((f) => f.startsWith('S_2026-03-10_n1'))).toBe(
      true,
    );
    expect(summary.reports).toHaveLength(5);
  });

  it('runs the same day with every service behind ServicePorts (the driver path `npm start` takes on the cluster)', async () => {
    const outDir = join(await mkdtemp(join(tmpdir(), 'mf-demo-')), 'out');
    dirs.push(join(outDir, '..'));
    const summary = await runDemoDay({
      outDir,
      concentrators: 3,
      metersPerConcentrator: 2,
      speed: 1e9,
      dayStartMs: Date.UTC(2026, 2, 10),
      progress: () => undefined,
      services: { ports: new InProcessPorts(), name: 'demo' },
    });
    expect(summary.rowsByFileKind.S).toBe(3 * 2 * 24);
    expect(summary.rowsByFileKind.DC).toBe(3 * 2);
    expect(summary.messagesByNoun.MeterReadings).toBeGreaterThan(0);
    expect(summary.jobs.failed).toBe(0);
    expect(summary.jobs.succeeded).toBeGreaterThan(24 * 3);
    expect(summary.reports).toHaveLength(5);
  });

  it('a demo day stopped at midday and started again with resume continues from the services: every value exactly once', {
    timeout: 120_000,
  }, async () => {
    const outDir = join(await mkdtemp(join(tmpdir(), 'mf-demo-')), 'out');
    dirs.push(join(outDir, '..'));
    const ports = new InProcessPorts();
    const dayStartMs = Date.UTC(2026, 2, 10);
    const options = { outDir, concentrators: 3, metersPerConcentrator: 2, speed: 1e9, dayStartMs };
    const controller = new AbortController();
    await runDemoDay({
      ...options,
      signal: controller.signal,
      progress: (line) => {
        if (line.startsWith('2026-03-10T12:00Z')) controller.abort();
      },
      services: { ports, name: 'demo' },
    });
    const lines: string[] = [];
    const second = await runDemoDay({
      ...options,
      progress: (line) => lines.push(line),
      services: { ports, name: 'demo', resume: true },
    });
    expect(lines[0]).toMatch(/^resumed after 2026-03-10T12:00Z from the cluster/);
    expect(second.jobs.failed).toBe(0);
    const fleet = new SimulatedFleet({
      concentrators: 3,
      metersPerConcentrator: 2,
      seed: 1,
      originMs: dayStartMs,
      clock: new ManualClock(dayStartMs),
      timeZones: ['UTC', 'Europe/Rome', 'Europe/Madrid'],
      outageChance: 0.05,
      outageFromMs: dayStartMs + 2 * 3_600_000,
      outageToMs: dayStartMs + 20 * 3_600_000,
      iec62056Every: 10,
    });
    const endMs = dayStartMs + 24 * 3_600_000 + 15 * 60_000;
    const truth = new Map(groundTruth(fleet, dayStartMs, endMs).map((v) => [truthKey(v), v.value]));
    const kinds = ['interval', 'dailyClosure', 'voltage', 'statusAlarm'];
    expect(compare(truth, await csvTally(outDir, 'SIM'), kinds)).toEqual({
      missing: [],
      twice: [],
      extra: [],
    });
    expect(compare(truth, (await cimTally(outDir)).tally, kinds)).toEqual({
      missing: [],
      twice: [],
      extra: [],
    });
  });
});
