import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatSummary, runDemoDay } from '../../actors/demo/run-day.js';
import { InProcessPorts } from '../../actors/host/service-ports.js';
import { expectExactlyOnceInOutputs } from './output-check.js';
import { demoDayTruth } from './support/demo-truth.js';

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
    // The default demo fleet also has 2 KNX and 2 battery sites, reached over loopback sockets.
    expect(lines[0]).toMatch(/^provisioning/);
    expect(summary.readings).toBeGreaterThan(3 * 2 * 24);
  });

  it('runs the KNX and battery sites (2 + 2 by default) through the day and counts their events', {
    timeout: 120_000,
  }, async () => {
    const outDir = join(await mkdtemp(join(tmpdir(), 'mf-demo-')), 'out');
    dirs.push(join(outDir, '..'));
    const options = {
      outDir,
      concentrators: 1,
      metersPerConcentrator: 1,
      speed: 1e9,
      dayStartMs: Date.UTC(2026, 2, 10),
      progress: () => undefined,
    };
    const withSites = await runDemoDay(options);
    const without = await runDemoDay({ ...options, knxSites: 0, batterySites: 0 });
    // Each battery site overheats once in the alarm window (fleet default chance 1): raised and cleared.
    expect(withSites.events['battery.overTemperature']).toBeGreaterThanOrEqual(1);
    expect(withSites.events['battery.overTemperature (cleared)']).toBeGreaterThanOrEqual(1);
    expect(Object.keys(without.events).filter((k) => k.startsWith('battery.'))).toEqual([]);
    expect(withSites.readings).toBeGreaterThan(without.readings);
    expect(formatSummary(withSites)).toMatch(/events: +.*battery\.overTemperature \d+/);
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
    // Meter concentrators only: the sites' values are recorded by the running sites (site-truth.ts),
    // which the demo keeps inside; knx-battery-day.int.test.ts checks those exactly once.
    const options = {
      outDir,
      concentrators: 3,
      metersPerConcentrator: 2,
      knxSites: 0,
      batterySites: 0,
      speed: 1e9,
      dayStartMs,
    };
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
    const truth = demoDayTruth({ concentrators: 3, metersPerConcentrator: 2, dayStartMs });
    await expectExactlyOnceInOutputs(truth, outDir, 'SIM');
  });

  it('lists the summary counts in key order, whichever writer finished first', () => {
    const base = {
      readings: 0,
      gapsRecovered: 0,
      loadProfileEveryMinutes: 60,
      concentratorOutages: 0,
      jobs: { succeeded: 1, failed: 0 },
      elapsedMs: 0,
      reports: [],
    };
    const one = formatSummary({
      ...base,
      rowsByFileKind: { S: 9, PP: 2, MP: 4 },
      messagesByNoun: { MeterReadings: 3, EndDeviceEvents: 1 },
      events: { 'meter.z': 1, 'meter.a': 2 },
    });
    const other = formatSummary({
      ...base,
      rowsByFileKind: { MP: 4, S: 9, PP: 2 },
      messagesByNoun: { EndDeviceEvents: 1, MeterReadings: 3 },
      events: { 'meter.a': 2, 'meter.z': 1 },
    });
    expect(one).toBe(other);
    expect(one).toContain('rows per file kind:   MP 4, PP 2, S 9');
    expect(one).toContain('messages per noun:    EndDeviceEvents 1, MeterReadings 3');
    expect(one).toContain('events:               meter.a 2, meter.z 1');
  });
});
