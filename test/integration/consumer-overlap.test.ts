import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IntegrationConsumer } from '../../actors/integration/integration.js';
import { emptyRegistry } from '../../actors/registry/types.js';
import { classify, type RoutedRecord } from '../../actors/tlog/router.js';
import { collectedFromMeterReadings, parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { parseCsvFile } from '../../adapters/csv/codec.js';
import { ManualClock } from '../../core/clock.js';

/**
 * IntegrationConsumer with writes in flight together (maxWritesInFlight): sink calls arriving
 * while earlier writes wait for their fsyncs start the next write at once; still every reading
 * is in the S_ file and in a CIM message exactly once, in arrival order, and no more writes run
 * at once than the bound.
 */
const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function readingRecord(i: number): RoutedRecord {
  const record = {
    type: 'reading' as const,
    concentratorId: 'C1',
    collectedAtMs: t0 + 86_400_000,
    reading: {
      meterSerial: `M${String(i).padStart(5, '0')}`,
      usagePoint: `P${i}`,
      kind: 'interval' as const,
      quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
      value: i,
      unit: 'Wh',
      timestampMs: t0 + 3_600_000 * (1 + (i % 24)),
      intervalSeconds: 3600,
    },
  };
  return { id: `r${i}`, ...classify(record), record };
}

async function run(
  maxWritesInFlight: number,
): Promise<{ serials: string[]; cimSerials: string[]; highWater: number }> {
  const outDir = await mkdtemp(join(tmpdir(), 'mf-integration-overlap-'));
  dirs.push(outDir);
  const consumer = await IntegrationConsumer.open({
    outDir,
    organization: 'IT',
    server: 'n1',
    clock: new ManualClock(t0 + 86_400_000),
    registry: emptyRegistry(),
    maxWritesInFlight,
  });
  const writes: Promise<void>[] = [];
  // 60 deliveries of 20 readings, each in its own turn (as the head-end's TLog hands them on).
  for (let d = 0; d < 60; d++) {
    writes.push(consumer.sink(Array.from({ length: 20 }, (_, k) => readingRecord(d * 20 + k))));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(writes);
  await consumer.flush();
  const csvDir = join(outDir, 'IT', 'pload');
  const serials: string[] = [];
  for (const f of (await readdir(csvDir)).filter((n) => n.endsWith('.csv')).sort())
    serials.push(
      ...parseCsvFile('S', await readFile(join(csvDir, f), 'utf8')).map((r) => String(r.serialnumber)),
    );
  const cimDir = join(outDir, 'cim', 'MeterReadings');
  const cimSerials: string[] = [];
  // File names start with the zero-padded seq: name order is publication order.
  for (const f of (await readdir(cimDir)).sort())
    cimSerials.push(
      ...collectedFromMeterReadings(
        parseMeterReadingsMessage(await readFile(join(cimDir, f), 'utf8')).meterReadings,
      ).readings.map((r) => r.meterSerial),
    );
  return { serials, cimSerials, highWater: consumer.writesInFlightHighWater };
}

describe('IntegrationConsumer with writes in flight together', () => {
  it('writes every reading once, in arrival order, to CSV and CIM, with at most maxWritesInFlight writes at once', async () => {
    const expected = Array.from({ length: 1200 }, (_, i) => `M${String(i).padStart(5, '0')}`);
    const overlapped = await run(3);
    expect(overlapped.serials).toEqual(expected);
    expect(overlapped.cimSerials).toEqual(expected);
    expect(overlapped.highWater).toBeGreaterThan(1);
    expect(overlapped.highWater).toBeLessThanOrEqual(3);
    const serial = await run(1);
    expect(serial.serials).toEqual(expected);
    expect(serial.highWater).toBe(1);
  });
});
