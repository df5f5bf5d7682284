/**
 * The chaos head-end workload without a cluster (every service behind in-process ServicePorts,
 * driven by the same HeadendDriver as on the cluster): a small
 * simulated day is written to CSV and CIM, read back through the runner's output readers and
 * judged by the head-end checker. A clean day passes with every produced reading examined;
 * a removed CSV row, a duplicated CIM message and an edited value are each caught.
 */
import { copyFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groundTruth } from '../../actors/simulation/ground-truth.js';
import { checkReadingsExactlyOnce } from '../../chaos/checkers/headend-checker.js';
import { cimReadings, csvReadings, truthReadings } from '../../chaos/runner/headend-outputs.js';
import { HeadendDay, headendOrganization } from '../../chaos/runner/headend-workload.js';

const base = mkdtempSync(join(tmpdir(), 'mf-chaos-headend-'));
let day: HeadendDay;

afterAll(() => {
  if (!process.env.MF_KEEP_TEST_DIRS) rmSync(base, { recursive: true, force: true });
});

beforeAll(async () => {
  day = new HeadendDay({
    name: 'unit',
    outDir: join(base, 'day'),
    seed: 3,
    concentrators: 2,
    metersPerConcentrator: 2,
  });
  await day.open();
  // In slices, as the runner advances it round by round.
  for (const fraction of [0.3, 0.6, 0.9]) await day.advanceTo(fraction);
  await day.finish();
}, 240_000);

/** A copy of the day's output directory to tamper with. */
function copyOutputs(name: string): string {
  const dir = mkdtempSync(join(base, `${name}-`));
  cpSync(day.outDir, dir, { recursive: true });
  return dir;
}

function filesUnder(dir: string, predicate: (name: string) => boolean): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && predicate(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

describe('the head-end day workload and its output readers', () => {
  it('a clean day: every produced interval, daily-closure (with maximum demand and prepayment) and voltage reading is in CSV and in CIM exactly once', async () => {
    const checks = await day.check();
    const byName = new Map(checks.map((c) => [c.checker, c]));
    expect(checks.flatMap((c) => c.anomalies)).toEqual([]);
    expect(byName.get('headend-day')?.stats.steps).toBe(101);
    expect(byName.get('headend-day')?.stats.serviceCalls).toBeGreaterThan(100);
    // The collections took the production one-write path (plan read, one persisted call).
    expect(byName.get('headend-day')?.stats.planReads).toBeGreaterThan(10);
    const truth = truthReadings(groundTruth(day.fleet, day.dayStartMs, day.nowMs));
    expect(truth.length).toBeGreaterThan(100);
    expect(new Set(truth.map((r) => r.readingType))).toEqual(
      new Set([
        'interval/profile',
        'voltage/32.7.0',
        ...[0, 1, 2, 3, 4, 5, 6].map((t) => `dailyClosure/1.8.${t}`),
        // collected with the closure: maximum demand and a prepayment meter's registers
        'dailyClosure/1.6.0',
        'dailyClosure/19.10.0',
        'dailyClosure/19.20.0',
      ]),
    );
    expect(byName.get('headend-csv')?.stats).toEqual({ produced: truth.length, delivered: truth.length });
    expect(byName.get('headend-cim')?.stats).toEqual({ produced: truth.length, delivered: truth.length });
  });

  it('a CSV load-profile row that went missing is reported as a missing reading', async () => {
    const dir = copyOutputs('missing-row');
    const file = filesUnder(dir, (n) => n.startsWith('S_') && n.endsWith('.csv'))[0] as string;
    const lines = readFileSync(file, 'utf8').split('\n');
    const [removed] = lines.splice(1, 1); // the first data row after the header
    writeFileSync(file, lines.join('\n'));
    const truth = truthReadings(groundTruth(day.fleet, day.dayStartMs, day.nowMs));
    const result = checkReadingsExactlyOnce('csv', truth, await csvReadings(dir, headendOrganization));
    expect(result.anomalies.map((a) => a.kind)).toEqual(['missing-reading']);
    expect(result.anomalies[0]?.message).toContain(String(removed?.split(';')[0]));
  });

  it('a CIM MeterReadings message delivered twice is reported as duplicate readings', async () => {
    const dir = copyOutputs('duplicate-message');
    const file = filesUnder(dir, (n) => n.endsWith('.xml') && !n.includes('EndDevice')).find((f) =>
      f.includes('MeterReadings'),
    ) as string;
    copyFileSync(file, file.replace(/\.xml$/, '-again.xml'));
    const truth = truthReadings(groundTruth(day.fleet, day.dayStartMs, day.nowMs));
    const result = checkReadingsExactlyOnce('cim', truth, await cimReadings(dir));
    expect(result.anomalies.length).toBeGreaterThan(0);
    expect(new Set(result.anomalies.map((a) => a.kind))).toEqual(new Set(['duplicate-reading']));
  });

  it('a voltage value changed in a VV_ file is reported as a wrong value', async () => {
    const dir = copyOutputs('wrong-value');
    const file = filesUnder(dir, (n) => n.startsWith('VV_') && n.endsWith('.csv'))[0] as string;
    const lines = readFileSync(file, 'utf8').split('\n');
    const cells = (lines[1] as string).split(';');
    // serialnumber;pod;type;value;time
    cells[3] = String(Number(cells[3]) + 7);
    lines[1] = cells.join(';');
    writeFileSync(file, lines.join('\n'));
    const truth = truthReadings(groundTruth(day.fleet, day.dayStartMs, day.nowMs));
    const result = checkReadingsExactlyOnce('csv', truth, await csvReadings(dir, headendOrganization));
    expect(result.anomalies.map((a) => a.kind)).toEqual(['wrong-value']);
  });
});
