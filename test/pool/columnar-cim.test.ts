import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMeterReadingsInPool, type MeterReadingsMessageJob } from '../../adapters/cim/columnar-pool.js';
import {
  maxReadingsPerBatch,
  NO_USAGE_POINT,
  packReadings,
  readingColumnBuffers,
  unpackReadings,
} from '../../adapters/cim/columnar-readings.js';
import { encodeMeterReadings } from '../../adapters/cim/meter-readings.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { collectedReadings, unknownQuantityReading } from '../cim/support/reading-arbitrary.js';

// Serials and names with what XML must escape or replace: markup characters, C0 controls,
// lone surrogates, U+FFFE, and any other code point.
const name = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.stringMatching(/^[A-Za-z0-9&<>"';\n _.-]{1,16}$/),
);
const timestampMs = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) });

// A fresh quantity object per reading, as decoded records have: packing must not rely on identity.
const reading = collectedReadings({
  meterSerial: fc.oneof(name, fc.constantFrom('M1', 'M2', 'M3')),
  usagePoint: fc.option(fc.oneof(name, fc.constantFrom('P1', 'P2', '')), { nil: undefined }),
  value: fc.oneof(
    fc.integer({ min: -1e9, max: 1e12 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, -0, 1e21, 5e-324, 123.456),
  ),
  timestampMs,
  qualities: fc.option(fc.array(fc.constantFrom('1.0.0', '1.4.5', '1.2.32', '3.8.0'), { maxLength: 2 }), {
    nil: undefined,
  }),
});

const job: fc.Arbitrary<MeterReadingsMessageJob> = fc.record({
  readings: fc.array(reading, { maxLength: 40 }),
  options: fc.record({
    source: name,
    messageId: name,
    correlationId: fc.option(name, { nil: undefined }),
    profile: fc.constantFrom('standard' as const, 'seed-compat' as const),
    timestampMs,
  }),
});

function mainThread(j: MeterReadingsMessageJob): Buffer {
  const { timestampMs: at, ...options } = j.options;
  return Buffer.from(encodeMeterReadings(j.readings, { ...options, clock: { now: () => at } }));
}

function outcomeOf(j: MeterReadingsMessageJob): Buffer | string {
  try {
    return mainThread(j);
  } catch (err) {
    return (err as Error).message;
  }
}

/** Same bytes per message; or, where the main thread throws (a value overflowing its unit), the same message. */
async function expectSameAsMainThread(pool: WorkerPool, jobs: MeterReadingsMessageJob[]): Promise<void> {
  const expected = jobs.map(outcomeOf);
  const failures = expected.filter((e) => typeof e === 'string');
  if (failures.length > 0) {
    const err = await encodeMeterReadingsInPool(pool, jobs).then(
      () => new Error('the pool encoded what the main thread refused'),
      (e: Error) => e,
    );
    expect(failures).toContain(err.message);
    return;
  }
  const bytes = await encodeMeterReadingsInPool(pool, jobs);
  expect(bytes.length).toBe(jobs.length);
  for (const [i, e] of expected.entries()) expect(Buffer.from(bytes[i]!).equals(e as Buffer)).toBe(true);
}

function bigBatch(count: number): CollectedReading[] {
  return Array.from({ length: count }, (_, i) => ({
    meterSerial: `M${i % 997}`,
    usagePoint: i % 3 === 0 ? undefined : `P&${i % 997}`,
    kind: 'interval' as const,
    quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    value: (i * 7) % 1000,
    unit: 'Wh',
    timestampMs: Date.UTC(2026, 0, 1) + (i % 96) * 900_000,
    intervalSeconds: 900,
  }));
}

describe('columnar CIM readings: the pool writes exactly what the main thread writes', () => {
  const inline = new WorkerPool({ mode: 'inline', threads: 2 });
  afterAll(() => inline.close());

  it('packs and unpacks readings the encoder cannot tell apart (property)', () => {
    fc.assert(
      fc.property(job, (j) => {
        const unpacked = { ...j, readings: unpackReadings(packReadings(j.readings)) };
        expect(outcomeOf(unpacked)).toEqual(outcomeOf(j));
      }),
      { numRuns: 200 },
    );
  });

  it('inline pool output is byte-identical to encodeMeterReadings, and fails where it fails (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(job, { maxLength: 5 }), async (jobs) => {
        await expectSameAsMainThread(inline, jobs);
      }),
      { numRuns: 150 },
    );
  });

  it('handles an empty message and a huge one (100,000 readings) the same as the main thread', async () => {
    const options = { source: 'n1', messageId: 'big', timestampMs: Date.UTC(2026, 0, 2) };
    const jobs = [
      { readings: [], options },
      { readings: bigBatch(100_000), options },
    ];
    const bytes = await encodeMeterReadingsInPool(inline, jobs);
    expect(Buffer.from(bytes[0]!).equals(mainThread(jobs[0]!))).toBe(true);
    expect(Buffer.from(bytes[1]!).equals(mainThread(jobs[1]!))).toBe(true);
  });

  it('keeps one table entry per distinct string and reading type', () => {
    const columns = packReadings(bigBatch(10_000));
    expect(columns.types).toHaveLength(1);
    // 997 serials, 997 usage points with '&'; every third reading has none.
    expect(columns.strings).toHaveLength(997 * 2);
    expect(columns.usagePoint[0]).toBe(NO_USAGE_POINT);
  });

  it('reports an unknown quantity with the same code as the main-thread encoder, nothing written', async () => {
    const bad = unknownQuantityReading();
    const options = { messageId: 'x', timestampMs: 0 };
    let mainCode = '';
    try {
      encodeMeterReadings([bad], { messageId: 'x', clock: { now: () => 0 } });
    } catch (err) {
      mainCode = (err as { code: string }).code;
    }
    expect(mainCode).toMatch(/^MF_/);
    await expect(encodeMeterReadingsInPool(inline, [{ readings: [bad], options }])).rejects.toMatchObject({
      code: mainCode,
    });
  });

  it('refuses a value that is not a number when packing, naming the reading', () => {
    const bad = { ...bigBatch(2)[1]!, value: '12' as unknown as number };
    expect(() => packReadings([bigBatch(1)[0]!, bad])).toThrow(/reading 1 \(meter M1\)/);
  });

  it('refuses a forged batch (index past the tables, wrong column type, too many readings) with MF_POOL_BATCH_INVALID', async () => {
    const good = packReadings(bigBatch(4));
    const forged = [
      { ...good, meter: Uint32Array.from([0, 0, 0, 99]) },
      { ...good, type: Uint32Array.from([0, 0, 0, 7]) },
      { ...good, usagePoint: Uint32Array.from([NO_USAGE_POINT, good.strings.length, 0, 0]) },
      { ...good, value: [1, 2, 3, 4] },
      { ...good, timestampMs: new Float64Array(3) },
      { ...good, count: maxReadingsPerBatch + 1 },
      { ...good, strings: 'M0' },
    ];
    for (const columns of forged)
      await expect(
        inline.run({
          module: 'adapters/cim/pool-tasks',
          fn: 'encodeMeterReadingsColumnar',
          payload: [{ columns, options: { timestampMs: 0 } }],
        }),
      ).rejects.toMatchObject({ code: 'MF_POOL_BATCH_INVALID' });
  });

  it('moves the packed columns: the caller cannot reuse them after the call', async () => {
    const columns = packReadings(bigBatch(100));
    const buffers = readingColumnBuffers(columns);
    await inline.run(
      {
        module: 'adapters/cim/pool-tasks',
        fn: 'encodeMeterReadingsColumnar',
        payload: [{ columns, options: { timestampMs: 0 } }],
      },
      { transferList: buffers },
    );
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true);
    expect(columns.value.length).toBe(0);
  });
});

describe('columnar CIM readings through worker threads', () => {
  it('gives byte-identical output off the main thread (property, fewer runs)', async () => {
    const pool = new WorkerPool({ mode: 'workers', threads: 2 });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(job, { minLength: 1, maxLength: 4 }), async (jobs) => {
          await expectSameAsMainThread(pool, jobs);
        }),
        { numRuns: 25 },
      );
    } finally {
      await pool.close();
    }
  }, 120_000);
});
