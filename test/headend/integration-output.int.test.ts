import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IntegrationConsumer } from '../../actors/integration/integration.js';
import { hourMs, originMs, provision, runUntil, setUpDay, truthOf } from './day-fixture.js';
import { cimFiles, cimTally, compare, csvTally, validateAll } from './output-check.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('integration output of a simulated day', () => {
  it('every produced value is in the right CSV file and in a CIM message exactly once; every message validates', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-headend-'));
    dirs.push(outDir);
    const run = setUpDay({ concentrators: 4, meters: 3, outageChance: 0.5, provision: false });
    const consumer = await IntegrationConsumer.open({
      outDir,
      organization: 'IT',
      server: 'n1',
      clock: run.clock,
      registry: run.headend.registry,
    });
    run.forward = consumer.sink;
    provision(run);
    const endMs = originMs + 25 * hourMs;
    await runUntil(run, endMs);
    await consumer.flush();
    const reports = await consumer.writeReports(run.headend.reporting, endMs);
    expect(reports).toHaveLength(5);

    const truth = truthOf(run, endMs);
    const kinds = ['interval', 'dailyClosure', 'voltage', 'statusAlarm'];
    expect(compare(truth, await csvTally(outDir, 'IT'), kinds)).toEqual({
      missing: [],
      twice: [],
      extra: [],
    });
    expect(compare(truth, (await cimTally(outDir)).tally, kinds)).toEqual({
      missing: [],
      twice: [],
      extra: [],
    });

    const files = await cimFiles(outDir);
    expect(files.length).toBeGreaterThan(10);
    expect(await validateAll(files.map((f) => f.path))).toEqual([]);
  });
});
