import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { packValue, unpackValue } from '../../actors/hosting/compact-records.js';
import { recordId, type TLogRecord } from '../../actors/tlog/records.js';
import { classify } from '../../actors/tlog/router.js';
import { encodeMeterReadingsPackedLeased } from '../../adapters/cim/columnar-pool.js';
import { encodeMeterReadingsBytes } from '../../adapters/cim/meter-readings.js';
import {
  columnsFromPacked,
  encodeMeterReadingsPackedBytes,
  type PackedReadings,
} from '../../adapters/cim/packed-readings.js';
import type { PackedMeterReadingsJob } from '../../adapters/cim/pool-tasks.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { collectedReadings } from './support/reading-arbitrary.js';

/**
 * Readings in the cluster's packed stream form (actors/hosting/compact-records.ts, packed by
 * the real packer) encoded straight from the runs, on this thread and in pool tasks: the same
 * bytes as unpacking them and running the main thread's production encoder
 * (`encodeMeterReadingsBytes`), for every reading shape; a forged list is refused whole.
 */
const at = Date.UTC(2026, 2, 11);
const options = { source: 'n1', messageId: 'm-1', clock: { now: () => at } };
const poolOptions = { source: 'n1', messageId: 'm-1', timestampMs: at };

const serial = fc.oneof(fc.constantFrom('M0001', 'M0002', 'M0010', 'X'), fc.string({ maxLength: 6 }));
const base = fc.oneof(
  fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }),
  // Instants that are not safe-integer steps apart make the packer write absolute t0s.
  fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }).map((t) => t + 0.5),
);
const reading = (timestampMs: fc.Arbitrary<number>) =>
  collectedReadings({
    meterSerial: serial,
    usagePoint: fc.option(fc.constantFrom('P1', 'P12', 'P2', ''), { nil: undefined }),
    value: fc.oneof(
      fc.integer({ min: -1e6, max: 1e12 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    ),
    timestampMs,
    qualities: fc.option(fc.array(fc.constantFrom('1.0.0', '1.4.5', '3.8.0'), { maxLength: 2 }), {
      nil: undefined,
    }),
  });
/** Runs: one reading shape repeated at a regular step (what a load profile is), and singles. */
const run = fc
  .record({
    first: reading(base),
    count: fc.integer({ min: 1, max: 12 }),
    stepMs: fc.constantFrom(900_000, 1),
  })
  .map(({ first, count, stepMs }) =>
    Array.from({ length: count }, (_, k) => ({
      ...first,
      value: first.value + k,
      timestampMs: first.timestampMs + k * stepMs,
    })),
  );
const readingList = fc.array(run, { minLength: 1, maxLength: 6 }).map((runs) => runs.flat());

function asRecords(list: CollectedReading[]): TLogRecord[] {
  const out: TLogRecord[] = [];
  for (const [i, reading] of list.entries()) {
    const record = (
      i % 3 === 0
        ? { type: 'reading', reading, concentratorId: 'C1', collectedAtMs: at, correlationId: 'corr' }
        : { type: 'reading', reading, concentratorId: `C${i % 2}`, collectedAtMs: at }
    ) as TLogRecord;
    out.push(record);
  }
  return out;
}

/** A non-reading element of a record list (the packer leaves it in place among the runs). */
const other = { type: 'statusWord', concentratorId: 'C1', word: 7 } as unknown as TLogRecord;

function levelLists(
  list: CollectedReading[],
): { level: number; packed: PackedReadings; readings: CollectedReading[] }[] {
  const records = asRecords(list);
  records.splice(Math.min(1, records.length), 0, other);
  const routed = records.map((record) => ({ id: recordId(record), ...classify(record), record }));
  const out = [];
  for (const [level, value] of [list, records, routed].entries()) {
    const packed = packValue(value) as PackedReadings;
    if (!packed || !('~rl' in packed)) continue; // fewer than two readings of that level: not packed
    const back = unpackValue<unknown[]>(packed);
    const readings =
      level === 0
        ? (back as CollectedReading[])
        : back.flatMap((x) => {
            const record = (level === 1 ? x : (x as { record: TLogRecord }).record) as TLogRecord;
            return record.type === 'reading' ? [record.reading] : [];
          });
    out.push({ level, packed, readings });
  }
  return out;
}

function outcome(f: () => Uint8Array): string {
  try {
    return Buffer.from(f()).toString('latin1');
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

describe('MeterReadings from the packed stream form', () => {
  it('gives the bytes encodeMeterReadingsBytes gives for the unpacked readings (every shape, levels 0-2, absolute t0s)', () => {
    const levelsSeen = new Set<number>();
    let absolute = 0;
    fc.assert(
      fc.property(readingList, (list) => {
        for (const { level, packed, readings } of levelLists(list)) {
          levelsSeen.add(level);
          if (packed.a === 1) absolute++;
          expect(outcome(() => encodeMeterReadingsPackedBytes(packed, options))).toBe(
            outcome(() => encodeMeterReadingsBytes(readings, options)),
          );
        }
      }),
      { numRuns: 300 },
    );
    expect([...levelsSeen].sort()).toEqual([0, 1, 2]);
    expect(absolute).toBeGreaterThan(0);
  });

  it('reads registers, interval blocks, qualities and usage points into the same columns the packer of reading objects makes', () => {
    const readings: CollectedReading[] = [
      {
        meterSerial: 'M0001',
        usagePoint: 'P1',
        kind: 'register',
        quantity: { source: 'obis', code: '1.8.0' },
        value: 1234.5,
        unit: 'Wh',
        timestampMs: at,
        qualities: ['1.4.5'],
      },
      {
        meterSerial: 'M0002',
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: 7,
        unit: 'Wh',
        timestampMs: at + 900_000,
        intervalSeconds: 900,
      },
      {
        meterSerial: 'M0002',
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: 8,
        unit: 'Wh',
        timestampMs: at + 1_800_000,
        intervalSeconds: 900,
      },
    ] as CollectedReading[];
    const packed = packValue(readings) as PackedReadings;
    const columns = columnsFromPacked(packed);
    expect(columns.count).toBe(3);
    expect([...columns.value]).toEqual([1234.5, 7, 8]);
    expect([...columns.timestampMs]).toEqual([at, at + 900_000, at + 1_800_000]);
    expect(columns.types.map((t) => [t.kind, t.intervalSeconds, t.qualities])).toEqual([
      ['register', undefined, ['1.4.5']],
      ['interval', 900, undefined],
    ]);
    const xml = Buffer.from(encodeMeterReadingsPackedBytes(packed, options)).toString('utf8');
    expect(xml).toContain('<IntervalBlocks>');
    expect(xml).toContain('<name>P1</name>');
    expect(Buffer.from(encodeMeterReadingsPackedBytes(packed, options))).toEqual(
      Buffer.from(encodeMeterReadingsBytes(readings, options)),
    );
  });
});

function sample(): PackedReadings {
  const readings = Array.from({ length: 8 }, (_, i) => ({
    meterSerial: `M000${i % 2}`,
    usagePoint: `P${i % 2}`,
    kind: 'interval',
    quantity: { source: 'profile', quantity: 'activeImportInterval' },
    value: i,
    unit: 'Wh',
    timestampMs: at + 900_000 * i,
    intervalSeconds: 900,
  }));
  return packValue(asRecords(readings as CollectedReading[])) as PackedReadings;
}

const forgeries: [string, (p: PackedReadings) => void, RegExp][] = [
  ['a meter index past its table', (p) => (p.r[0] = 5), /meter index 5 is outside its table/],
  ['a type index past its table', (p) => (p.r[1] = 9), /type index 9 is outside its table/],
  ['a context index past its table', (p) => (p.r[2] = 9), /context index 9 is outside its table/],
  ['n larger than the runs hold', (p) => (p.n += 3), /fewer elements than n/],
  ['n smaller than the runs hold', (p) => (p.n -= 1), /more readings than n/],
  ['a run count past the end', (p) => (p.r[5] = 1000), /does not fit the runs/],
  ['a value that is not a number', (p) => ((p.r as unknown[])[6] = '1'), /not a number/],
  [
    'a reading record left outside the runs',
    (p) => {
      p.o.push([p.n, { type: 'reading', reading: {}, concentratorId: 'C', collectedAtMs: 0 }]);
      p.n += 1;
    },
    /a reading outside the packed runs/,
  ],
  ['an unknown level', (p) => ((p as { '~rl': number })['~rl'] = 3), /level 3/],
  ['a malformed meter row', (p) => ((p.m as unknown[])[0] = [99, 'x']), /a meter row must be/],
];

describe('a forged packed list', () => {
  for (const [what, forge, message] of forgeries)
    it(`is refused with MF_POOL_BATCH_INVALID: ${what}`, () => {
      const p = sample();
      forge(p);
      expect(() => encodeMeterReadingsPackedBytes(p, options)).toThrow(message);
      expect(() => columnsFromPacked(p)).toThrow(expect.objectContaining({ code: 'MF_POOL_BATCH_INVALID' }));
    });
});

describe.each(['inline', 'workers'] as const)('packed lists through the pool (%s)', (mode) => {
  const pool = new WorkerPool({ mode, threads: 2 });
  afterAll(() => pool.close());
  const small = { minItemsPerTask: 1, targetItemsPerTask: 20, maxItemsPerTask: 40 };

  it('gives the main thread bytes for every message, across tasks', async () => {
    const lists = fc.sample(readingList, { numRuns: 24, seed: 6 }).flatMap(levelLists);
    const jobs: PackedMeterReadingsJob[] = lists.map(({ packed }, i) => ({
      packed,
      options: { ...poolOptions, messageId: `m-${i}`, profile: i % 2 ? 'seed-compat' : 'standard' },
    }));
    const want = lists.map(({ readings }, i) =>
      outcome(() =>
        encodeMeterReadingsBytes(readings, {
          ...options,
          messageId: `m-${i}`,
          profile: i % 2 ? 'seed-compat' : 'standard',
        }),
      ),
    );
    // Lists whose readings the encoder refuses (a value out of range) are checked on their own below.
    const ok = want.map((w) => !w.startsWith('error: '));
    const lease = await encodeMeterReadingsPackedLeased(
      pool,
      jobs.filter((_, i) => ok[i]),
      { taskSize: small },
    );
    expect(lease.bytes.map((b) => Buffer.from(b).toString('latin1'))).toEqual(want.filter((_, i) => ok[i]));
    lease.release();
  });

  it('fails the whole call for one forged list among good ones, and then works again', async () => {
    const good = { packed: sample(), options: poolOptions };
    const forged = sample();
    forged.r[1] = 9;
    await expect(
      encodeMeterReadingsPackedLeased(pool, [good, { packed: forged, options: poolOptions }, good]),
    ).rejects.toMatchObject({
      code: 'MF_POOL_BATCH_INVALID',
      message: expect.stringMatching(/type index 9/),
    });
    // A run value that is not a number cannot go into the typed array the runs are moved in: sent as it is, refused.
    const notNumber = sample();
    (notNumber.r as unknown[])[6] = '1';
    await expect(
      encodeMeterReadingsPackedLeased(pool, [good, { packed: notNumber, options: poolOptions }]),
    ).rejects.toMatchObject({
      code: 'MF_POOL_BATCH_INVALID',
      message: expect.stringMatching(/not a number/),
    });
    const lease = await encodeMeterReadingsPackedLeased(pool, [good]);
    expect(Buffer.from(lease.bytes[0]!).toString('latin1')).toBe(
      outcome(() => encodeMeterReadingsPackedBytes(sample(), options)),
    );
    lease.release();
  });
});
