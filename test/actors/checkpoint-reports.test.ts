import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointConsumer } from '../../actors/integration/checkpoint-consumer.js';
import { newIntegration } from '../../actors/integration/checkpoint-stream.js';
import { applyRegistryCommand, type RegistryCommand } from '../../actors/registry/commands.js';
import { emptyRegistry } from '../../actors/registry/types.js';
import { parseCsvFile } from '../../adapters/csv/codec.js';
import { ManualClock } from '../../core/clock.js';

const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const concentrator = (id: string, timeZone: string): RegistryCommand => ({
  type: 'upsertConcentrator',
  id,
  concentratorType: 'DC450',
  serial: `SN-${id}`,
  substation: 'SUB-1',
  transformer: 'TR-1',
  timeZone,
  communicationType: 'gprs',
  address: '127.0.0.1:40001',
});

describe('CheckpointConsumer.writeReports', () => {
  it("writes *local columns on the wall clock of each row's concentrator (empty zone: UTC)", async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-checkpoint-reports-'));
    dirs.push(outDir);
    const registry = emptyRegistry();
    const commands: RegistryCommand[] = [
      concentrator('TD-ROME', 'Europe/Rome'),
      concentrator('TD-NOZONE', 'UTC'),
      { type: 'upsertMeter', serial: 'M-ROME', manufacturer: 'ACME', model: 'CERM1', firmwareVersion: '1.0' },
      {
        type: 'upsertMeter',
        serial: 'M-NOZONE',
        manufacturer: 'ACME',
        model: 'CERM1',
        firmwareVersion: '1.0',
      },
      { type: 'installMeter', serial: 'M-ROME', concentratorId: 'TD-ROME' },
      { type: 'installMeter', serial: 'M-NOZONE', concentratorId: 'TD-NOZONE' },
    ];
    for (const command of commands) applyRegistryCommand(registry, command, t0);
    // A registry entry written before zones were required has none: its rows stay UTC.
    const noZone = registry.concentrators['TD-NOZONE'];
    if (noZone) noZone.timeZone = '';
    const consumer = await CheckpointConsumer.open({
      outDir,
      organization: 'IT',
      server: 'n1',
      clock: new ManualClock(t0 + 86_400_000),
      registry: () => registry,
    });
    const integration = newIntegration();
    // 2026-03-10 11:30 UTC is 12:30 in Rome (CET, UTC+1; summer time starts on 29 March).
    const readAtMs = Date.UTC(2026, 2, 10, 11, 30);
    for (const [serial, concentratorId] of [
      ['M-ROME', 'TD-ROME'],
      ['M-NOZONE', 'TD-NOZONE'],
    ] as const)
      integration.reporting.meters[serial] = {
        concentratorId,
        lastDcMs: {},
        lastReadingMs: readAtMs,
        lastUpdateMs: readAtMs,
      };
    const paths = await consumer.writeReports(integration, registry, t0);
    const path = paths.find((p) => p.includes('MeterAggregatedInfo'));
    expect(path).toBeDefined();
    const rows = parseCsvFile('MeterAggregatedInfo', await readFile(path as string, 'utf8'));
    const rome = rows.find((r) => r.metersn === 'M-ROME');
    const utc = rows.find((r) => r.metersn === 'M-NOZONE');
    expect(rome?.lastreadingdatelocal).toBe('2026-03-10 12:30:00.000');
    expect(utc?.lastreadingdatelocal).toBe('2026-03-10 11:30:00.000');
  });
});
