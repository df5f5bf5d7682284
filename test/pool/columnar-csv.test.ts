import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type CsvRow, encodeCsvRows } from '../../adapters/csv/codec.js';
import { encodeCsvRowsInPool, encodeCsvTextWithPool } from '../../adapters/csv/columnar-pool.js';
import { CELL_MISSING, packRows, rowColumnBuffers, unpackRows } from '../../adapters/csv/columnar-rows.js';
import { type CsvKind, csvFormats } from '../../adapters/csv/formats.js';
import { WorkerPool } from '../../cluster/pool/pool.js';

const kinds: CsvKind[] = ['S', 'DC', 'VV', 'SWE', 'MeterReport', 'ConcentratorInFieldReport'];

// Cell values the codec accepts, plus ones it refuses (non-finite numbers, a string where an
// instant belongs), and strings csv-stringify must quote (';', '"', line breaks) or that hold
// any code point at all.
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.stringMatching(/^[A-Za-z0-9;"\n\r ,._-]{0,12}$/),
  fc.constantFrom('UAAEEDN000001', 'POD1', ''),
);
const value = fc.oneof(
  { weight: 40, arbitrary: text },
  { weight: 40, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
  { weight: 10, arbitrary: fc.constantFrom(true, false, null, undefined, -0, 1e21, 5e-324) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY) },
);
const instant = fc.oneof(
  { weight: 100, arbitrary: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, 'yesterday', Number.NaN) },
);

/** A row of `kind`; now and then with a column missing or a key that is not a column. */
function rowOf(kind: CsvKind): fc.Arbitrary<CsvRow> {
  const { columns, timeColumns } = csvFormats[kind];
  const cells = columns.map((c) => (timeColumns.includes(c) ? instant : value));
  return fc.tuple(fc.tuple(...cells), fc.integer({ min: 0, max: 300 })).map(([values, oddity]) => {
    const row: CsvRow = {};
    columns.forEach((c, i) => {
      row[c] = values[i] as CsvRow[string];
    });
    if (oddity === 0) delete row[columns[columns.length - 1]!];
    if (oddity === 1) row.bogus = 'x';
    return row;
  });
}

const batch = fc
  .constantFrom(...kinds)
  .chain((kind) => fc.record({ kind: fc.constant(kind), rows: fc.array(rowOf(kind), { maxLength: 30 }) }));

type Outcome = { text: string } | { code: string; message: string };

function mainThread(kind: CsvKind, rows: CsvRow[]): Outcome {
  try {
    return { text: encodeCsvRows(kind, rows) };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code ?? 'none', message: e.message };
  }
}

async function inPool(pool: WorkerPool, kind: CsvKind, rows: CsvRow[], chunkRows: number): Promise<Outcome> {
  try {
    const chunks = await encodeCsvRowsInPool(pool, kind, rows, { chunkRows });
    return { text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code ?? 'none', message: e.message };
  }
}

describe('columnar CSV rows: the pool writes exactly what the main thread writes', () => {
  const inline = new WorkerPool({ mode: 'inline', threads: 2 });
  afterAll(() => inline.close());

  it('unpacks rows the codec cannot tell apart from the originals, errors included (property)', () => {
    fc.assert(
      fc.property(batch, ({ kind, rows }) => {
        const packed = packRows(kind, rows);
        const back = 'columns' in packed ? unpackRows(packed.columns) : packed.rows;
        expect(mainThread(kind, back)).toEqual(mainThread(kind, rows));
      }),
      { numRuns: 300 },
    );
  });

  it('inline pool output is byte-identical over chunks, and a bad row fails with the same code and message (property)', async () => {
    await fc.assert(
      fc.asyncProperty(batch, fc.integer({ min: 1, max: 8 }), async ({ kind, rows }, chunkRows) => {
        expect(await inPool(inline, kind, rows, chunkRows)).toEqual(mainThread(kind, rows));
      }),
      { numRuns: 200 },
    );
  });

  it('encodes an empty batch to nothing and a huge one (300,000 rows) identically', async () => {
    expect(await encodeCsvRowsInPool(inline, 'S', [])).toEqual([]);
    const rows: CsvRow[] = Array.from({ length: 300_000 }, (_, i) => ({
      serialnumber: `M;${i % 1000}`,
      pod: `POD"${i % 1000}"`,
      value: i / 8,
      state: i % 3,
      cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
      sampledate: Date.UTC(2026, 0, 1) + i * 1000,
    }));
    const chunks = await encodeCsvRowsInPool(inline, 'S', rows, { chunkRows: 7000 });
    expect(chunks).toHaveLength(Math.ceil(300_000 / 7000));
    expect(Buffer.concat(chunks).toString('utf8')).toBe(encodeCsvRows('S', rows));
  });

  it('packs a missing column as missing and sends rows with unknown keys or odd values unpacked', () => {
    const packed = packRows('VV', [{ serialnumber: 'M1', pod: 'P1', type: 'sag', value: 1 }]);
    expect('columns' in packed && packed.columns.tags[4]).toBe(CELL_MISSING);
    expect('rows' in packed).toBe(false);
    const unknown = packRows('VV', [{ serialnumber: 'M1', pod: 'P1', type: 'sag', value: 1, time: 0, x: 1 }]);
    expect('rows' in unknown).toBe(true);
    const odd = packRows('VV', [{ serialnumber: 'M1', pod: 'P1', type: 'sag', value: 1, time: {} as never }]);
    expect('rows' in odd).toBe(true);
  });

  it('refuses forged cells (unknown tag, string index past the table, wrong lengths) with MF_POOL_BATCH_INVALID', async () => {
    const packed = packRows('VV', [{ serialnumber: 'M1', pod: 'P1', type: 'sag', value: 1, time: 0 }]);
    if (!('columns' in packed)) throw new Error('expected packed cells');
    const c = packed.columns;
    const forged = [
      { ...c, tags: Uint8Array.from([9, 3, 3, 2, 2]) },
      { ...c, numbers: Float64Array.from([7, 1, 2, 1, 0]) },
      { ...c, numbers: new Float64Array(4) },
      { ...c, count: 2 },
      { ...c, kind: 'NOPE' },
    ];
    for (const columns of forged)
      await expect(
        inline.run({ module: 'adapters/csv/pool-tasks', fn: 'encodeRowsColumnar', payload: [{ columns }] }),
      ).rejects.toMatchObject({ code: 'MF_POOL_BATCH_INVALID' });
  });

  it('moves the packed cells: the caller cannot reuse them after the call', async () => {
    const packed = packRows('S', [
      { serialnumber: 'M1', pod: 'P1', value: 1, state: 0, cimcode: 'c', sampledate: 0 },
    ]);
    const buffers = rowColumnBuffers(packed);
    expect(buffers).toHaveLength(2);
    const [bytes] = await inline.run<Uint8Array[]>(
      { module: 'adapters/csv/pool-tasks', fn: 'encodeRowsColumnar', payload: [packed] },
      { transferList: buffers },
    );
    expect(Buffer.from(bytes!).toString()).toBe('M1;P1;1;0;c;1970-01-01 00:00:00.000\n');
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true);
  });

  it('encodeCsvTextWithPool (one task, text back) matches encodeCsvRows, errors included (property)', async () => {
    await fc.assert(
      fc.asyncProperty(batch, async ({ kind, rows }) => {
        const got = await encodeCsvTextWithPool(inline, kind, rows).then(
          (text): Outcome => ({ text }),
          (e: { code?: string; message: string }): Outcome => ({
            code: e.code ?? 'none',
            message: e.message,
          }),
        );
        expect(got).toEqual(mainThread(kind, rows));
      }),
      { numRuns: 100 },
    );
  });

  it('keeps the old row-object task (DailyCsvWriter calls it) working', async () => {
    const rows = [{ serialnumber: 'M1', pod: 'P;1', value: 2, state: 0, cimcode: 'c', sampledate: 0 }];
    const [csv] = await inline.run<string[]>({
      module: 'adapters/csv/pool-tasks',
      fn: 'encodeRowChunks',
      payload: [{ kind: 'S', rows }],
    });
    expect(csv).toBe(encodeCsvRows('S', rows));
  });
});

describe('columnar CSV rows through worker threads', () => {
  it('production-sized batch in default tasks: same bytes, and a bad value in the second task names its row in the whole batch', async () => {
    const pool = new WorkerPool({ mode: 'workers', threads: 2 });
    try {
      const rows: CsvRow[] = Array.from({ length: 20_000 }, (_, i) => ({
        serialnumber: `UAAEEDN${String(Math.floor(i / 24)).padStart(6, '0')}`,
        pod: i % 97 === 0 ? `POD;${i}` : `POD${Math.floor(i / 24)}`,
        value: (i * 37) % 9001,
        state: i % 50 === 0 ? 1 : 0,
        cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
        sampledate: Date.UTC(2026, 10, 22) + (i % 96) * 900_000,
      }));
      const chunks = await encodeCsvRowsInPool(pool, 'S', rows);
      expect(chunks).toHaveLength(2);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(encodeCsvRows('S', rows));
      const bad = rows.slice();
      bad[15_321] = { ...bad[15_321]!, sampledate: Number.NaN };
      const expected = mainThread('S', bad);
      expect(expected).toMatchObject({
        code: 'MF_CSV_ROW',
        message: expect.stringMatching(/^S row 15321: /),
      });
      expect(await inPool(pool, 'S', bad, 10_000)).toEqual(expected);
    } finally {
      await pool.close();
    }
  }, 120_000);

  it('gives byte-identical output and the same errors off the main thread (property, fewer runs)', async () => {
    const pool = new WorkerPool({ mode: 'workers', threads: 2 });
    try {
      await fc.assert(
        fc.asyncProperty(batch, fc.integer({ min: 1, max: 8 }), async ({ kind, rows }, chunkRows) => {
          expect(await inPool(pool, kind, rows, chunkRows)).toEqual(mainThread(kind, rows));
        }),
        { numRuns: 40 },
      );
    } finally {
      await pool.close();
    }
  }, 120_000);
});
