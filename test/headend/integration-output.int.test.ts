import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { handleCimRequest } from '../../actors/integration/bridge/execute.js';
import { IntegrationConsumer } from '../../actors/integration/integration.js';
import { concentratorImportCommands } from '../../actors/registry/bulk-import.js';
import { linkageConfig, soapMeterConfig, usagePointConfig } from './cim-requests.js';
import { type DayRun, hourMs, originMs, runUntil, setUpDay, truthOf } from './day-fixture.js';
import { expectExactlyOnceInOutputs, expectValidCim } from './output-check.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Concentrators by bulk import (CIM has no noun for them), everything else by CIM requests. */
async function provisionThroughCim(run: DayRun): Promise<void> {
  const header = 'id;type;serial;substation;transformer;timezone;communicationtype;address';
  const lines = run.fleet.concentrators.map(
    (c, i) => `${c.id};DC-SIM;DC${i};SUB;TR-${i};${c.timeZone};gprs;sim://${c.id}`,
  );
  run.headend.importRegistry(concentratorImportCommands([header, ...lines].join('\n')));
  const meters = [...run.fleet.meters];
  const options = { clock: run.clock, source: 'test', onDemandTimeoutMs: 5_000, controlTimeoutMs: 60_000 };
  const requests = [
    soapMeterConfig(
      meters.map(([serial, m]) => ({ serial, concentrator: m.concentratorId, commissioned: true })),
    ),
    usagePointConfig(meters.map(([, m]) => m.pod)),
    ...meters.map(([serial, m]) => linkageConfig(serial, m.pod, new Date(originMs).toISOString())),
  ];
  for (const xml of requests) {
    const { reply } = await handleCimRequest(run.headend, xml, options);
    expect(reply).toEqual({ result: 'OK', errors: [] });
  }
}

describe('integration output of a simulated day', () => {
  it('provisioned through CIM requests, every produced value is in the right CSV file and in a CIM message exactly once; every message validates', async () => {
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
    await provisionThroughCim(run);
    const endMs = originMs + 25 * hourMs;
    await runUntil(run, endMs);
    await consumer.flush();
    const reports = await consumer.writeReports(run.headend.reporting, endMs);
    expect(reports).toHaveLength(5);

    const truth = truthOf(run, endMs);
    await expectExactlyOnceInOutputs(truth, outDir, 'IT');
    await expectValidCim(outDir, 10);
  });
});
