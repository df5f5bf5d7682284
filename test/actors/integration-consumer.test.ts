import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IntegrationConsumer } from '../../actors/integration/integration.js';
import { emptyRegistry } from '../../actors/registry/types.js';
import { newReporting } from '../../actors/reporting/store.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { classify, type RoutedRecord } from '../../actors/tlog/router.js';
import { ManualClock } from '../../core/clock.js';

const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const routedOf = (record: TLogRecord, id: string): RoutedRecord => ({ id, ...classify(record), record });

describe('integration consumer', () => {
  it('keeps at most maxStatusWordSamples status words for the report, the newest ones', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-integration-'));
    dirs.push(outDir);
    const clock = new ManualClock(t0 + 3_600_000);
    const consumer = await IntegrationConsumer.open({
      outDir,
      organization: 'IT',
      server: 'n1',
      clock,
      registry: emptyRegistry(),
      maxStatusWordSamples: 32,
    });
    for (let i = 0; i < 100; i++) {
      const record: TLogRecord = {
        type: 'statusWord',
        meterSerial: `M${String(i).padStart(3, '0')}`,
        concentratorId: 'C1',
        word: 0x10 + i,
        timestampMs: t0 + i * 1_000,
        collectedAtMs: t0 + 3_600_000,
      };
      consumer.sink([routedOf(record, `s${i}`)]);
      await consumer.flush();
    }
    const paths = await consumer.writeReports(newReporting(), t0);
    const report = paths.find((p) => p.includes('MeterStatusWordReport'));
    const rows = (await readFile(report as string, 'utf8')).trim().split('\n').slice(1);
    expect(rows.length).toBeLessThanOrEqual(32);
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(rows.some((r) => r.includes('M099'))).toBe(true);
    expect(rows.some((r) => r.includes('M000'))).toBe(false);
  });

  it('writes a batch to the CSV files and as a CIM message, each once', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-integration-'));
    dirs.push(outDir);
    const clock = new ManualClock(t0 + 3_600_000);
    const consumer = await IntegrationConsumer.open({
      outDir,
      organization: 'IT',
      server: 'n1',
      clock,
      registry: emptyRegistry(),
    });
    const readings: RoutedRecord[] = Array.from({ length: 24 }, (_, i) =>
      routedOf(
        {
          type: 'reading',
          concentratorId: 'C1',
          collectedAtMs: t0 + 3_600_000,
          reading: {
            meterSerial: `M${i}`,
            usagePoint: `P${i}`,
            kind: 'interval',
            quantity: { source: 'profile', quantity: 'activeImportInterval' },
            value: i,
            unit: 'Wh',
            timestampMs: t0 + 3_600_000,
            intervalSeconds: 3600,
          },
        },
        `r${i}`,
      ),
    );
    await consumer.sink(readings);
    await consumer.flush();
    expect(consumer.csv.rowsByKind.S).toBe(24);
    expect(consumer.cim.countsByNoun.MeterReadings).toBe(1);
  });
});
