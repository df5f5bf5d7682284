import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatSummary, runDemoDay } from '../../actors/demo/run-day.js';
import { InProcessPorts } from '../../actors/host/service-ports.js';

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
});
