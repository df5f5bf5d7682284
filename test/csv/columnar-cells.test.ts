import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CsvEncodeOptions,
  type CsvRow,
  encodeChunkRows,
  encodeCsvRows,
} from '../../adapters/csv/codec.js';
import { encodeRowColumns, encodeRowColumnsBytes } from '../../adapters/csv/columnar-cells.js';
import { packRows, type RowColumns } from '../../adapters/csv/columnar-rows.js';
import { type CsvKind, csvFormats } from '../../adapters/csv/formats.js';

/**
 * The pool's workers build csv-stringify's cells straight from packed columns
 * (columnar-cells.ts) instead of unpacking rows first: the same bytes as `encodeCsvRows` over
 * the same rows for every kind, and the same error for a bad value, naming its row's index in
 * the caller's whole batch.
 */
const kinds = Object.keys(csvFormats) as CsvKind[];

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.stringMatching(/^[A-Za-z0-9;"\n\r ,._-]{0,12}$/),
  fc.constantFrom('UAAEEDN000001', 'POD1', '', '2026-03-29 02:30:00.000'),
);
const goodValue = fc.oneof(
  { weight: 40, arbitrary: text },
  { weight: 40, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
  { weight: 10, arbitrary: fc.constantFrom(true, false, null, undefined, -0, 1e21, 5e-324) },
);
const goodInstant = fc.oneof(
  { weight: 50, arbitrary: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined) },
);
/** What the codec refuses in a column: a non-finite number anywhere, a word where an instant belongs. */
const badValue = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 'yesterday');

function rowOf(kind: CsvKind): fc.Arbitrary<CsvRow> {
  const { columns, timeColumns } = csvFormats[kind];
  return fc
    .tuple(...columns.map((c) => (timeColumns.includes(c) ? goodInstant : goodValue)))
    .map((values) => {
      const row: CsvRow = {};
      columns.forEach((c, i) => {
        row[c] = values[i] as CsvRow[string];
      });
      return row;
    });
}

/**
 * A batch long enough to cross csv-stringify's chunks (`encodeChunkRows`): a few generated rows
 * repeated up to `length`, now and then one row spoiled (a bad value or a missing column).
 */
const batch = fc.constantFrom(...kinds).chain((kind) =>
  fc
    .record({
      kind: fc.constant(kind),
      base: fc.array(rowOf(kind), { minLength: 1, maxLength: 12 }),
      length: fc.integer({ min: 0, max: encodeChunkRows * 3 + 5 }),
      spoil: fc.option(
        fc.record({
          at: fc.nat(),
          column: fc.nat(),
          how: fc.oneof(
            badValue.map((v) => ({ set: v })),
            fc.constant({ remove: true as const }),
          ),
        }),
        { freq: 3 },
      ),
      firstRow: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_000_000 })),
    })
    .map(({ kind, base, length, spoil, firstRow }) => {
      const rows = Array.from({ length }, (_, i) => base[i % base.length]!);
      if (spoil && length > 0) {
        const columns = csvFormats[kind].columns;
        const at = spoil.at % length;
        const column = columns[spoil.column % columns.length]!;
        const row = { ...rows[at]! };
        if ('remove' in spoil.how) delete row[column];
        else row[column] = spoil.how.set;
        rows[at] = row;
      }
      return { kind, rows, firstRow };
    }),
);

type Outcome = { text: string } | { code: string; message: string; rowIndex: unknown };

function outcome(encode: () => string): Outcome {
  try {
    return { text: encode() };
  } catch (err) {
    const e = err as { code?: string; message: string; details?: { rowIndex?: unknown } };
    return { code: e.code ?? 'none', message: e.message, rowIndex: e.details?.rowIndex };
  }
}

function columnsOf(kind: CsvKind, rows: readonly CsvRow[]): RowColumns {
  const packed = packRows(kind, rows);
  if (!('columns' in packed)) throw new Error('these rows pack into cells');
  return packed.columns;
}

describe('CSV cells built straight from packed columns (the pool workers path)', () => {
  it('writes the bytes encodeCsvRows writes for every kind, and the same error naming the row in the whole batch (property)', () => {
    fc.assert(
      fc.property(batch, ({ kind, rows, firstRow }) => {
        const viaColumns = outcome(() => encodeRowColumns(columnsOf(kind, rows), {}, firstRow));
        expect(viaColumns).toEqual(outcome(() => encodeCsvRows(kind, rows, {}, firstRow)));
      }),
      { numRuns: 250 },
    );
  });

  it('gives the UTF-8 bytes of those lines in a buffer of their own, multi-byte text and growth included (property)', () => {
    const utf8 = new TextEncoder();
    // Short ASCII rows first, then long rows of 2-4 byte characters: the buffer sized from the
    // first chunk must grow, and encodeInto must not split a character across the growth.
    const wide = fc.string({ unit: 'grapheme', minLength: 20, maxLength: 60 });
    fc.assert(
      fc.property(batch, wide, fc.nat(), ({ kind, rows, firstRow }, long, from) => {
        const column = csvFormats[kind].columns.find((c) => !csvFormats[kind].timeColumns.includes(c))!;
        const start = rows.length === 0 ? 0 : from % rows.length;
        const mixed = rows.map((row, i) => (i >= start && i % 3 === 0 ? { ...row, [column]: long } : row));
        const bytes = outcome(() => {
          const out = encodeRowColumnsBytes(columnsOf(kind, mixed), {}, firstRow);
          expect(out.byteOffset).toBe(0);
          expect(out.byteLength).toBe(out.buffer.byteLength);
          return Buffer.from(out).toString('base64');
        });
        const reference = outcome(() =>
          Buffer.from(utf8.encode(encodeCsvRows(kind, mixed, {}, firstRow))).toString('base64'),
        );
        expect(bytes).toEqual(reference);
      }),
      { numRuns: 150 },
    );
  });

  it('grows its buffer when later rows are longer than the first chunk promised, keeping every byte', () => {
    const short: CsvRow[] = Array.from({ length: encodeChunkRows }, (_, i) => ({
      serialnumber: `M${i}`,
      pod: '',
      type: 'a',
      value: i,
      time: 0,
    }));
    const long: CsvRow[] = Array.from({ length: 2_000 }, (_, i) => ({
      serialnumber: `M${i}`,
      pod: `${'\u{1F50C}é€'.repeat(40)};${i}`, // 4-, 2- and 3-byte characters, quoted for the ';'
      type: 'sag',
      value: i / 3,
      time: Date.UTC(2026, 2, 29, 1) + i * 60_000,
    }));
    const rows = [...short, ...long];
    const bytes = encodeRowColumnsBytes(columnsOf('VV', rows), {}, 5);
    expect(bytes.byteLength).toBe(bytes.buffer.byteLength);
    expect(Buffer.from(bytes).equals(Buffer.from(encodeCsvRows('VV', rows), 'utf8'))).toBe(true);
  });

  it('writes *local columns on a given zone wall clock like encodeCsvRows (property)', () => {
    const zoned = kinds.filter((k) => csvFormats[k].localTimeColumns.length > 0);
    expect(zoned.length).toBeGreaterThan(0);
    const options: CsvEncodeOptions = { timeZone: 'Europe/Rome' };
    fc.assert(
      fc.property(
        fc
          .constantFrom(...zoned)
          .chain((kind) =>
            fc.record({ kind: fc.constant(kind), rows: fc.array(rowOf(kind), { maxLength: 40 }) }),
          ),
        ({ kind, rows }) => {
          expect(outcome(() => encodeRowColumns(columnsOf(kind, rows), options))).toEqual(
            outcome(() => encodeCsvRows(kind, rows, options)),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('names a bad value by its row index in the whole batch, past several chunks', () => {
    const rows: CsvRow[] = Array.from({ length: 1_000 }, (_, i) => ({
      serialnumber: `M${i}`,
      pod: `POD;${i}`,
      value: i / 4,
      state: 0,
      cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
      sampledate: Date.UTC(2026, 10, 22) + i * 900_000,
    }));
    rows[700] = { ...rows[700]!, value: Number.POSITIVE_INFINITY };
    const columns = columnsOf('S', rows);
    expect(() => encodeRowColumns(columns, {}, 30_720)).toThrow(
      expect.objectContaining({
        code: 'MF_CSV_ROW',
        message: 'S row 31420: column value is Infinity',
        details: expect.objectContaining({ rowIndex: 31_420, column: 'value' }),
      }),
    );
  });

  it('refuses a forged cell anywhere in the batch before encoding any row', () => {
    const rows: CsvRow[] = Array.from({ length: 600 }, (_, i) => ({
      serialnumber: `M${i}`,
      pod: 'P',
      type: 'sag',
      value: i,
      time: 0,
    }));
    rows[3] = { ...rows[3]!, value: Number.NaN }; // a bad value early on ...
    const columns = columnsOf('VV', rows);
    const tags = columns.tags.slice();
    tags[599 * 5] = 42; // ... and a forged tag in the last row: the batch is refused as forged
    expect(() => encodeRowColumns({ ...columns, tags })).toThrow(
      expect.objectContaining({
        code: 'MF_POOL_BATCH_INVALID',
        message: `cell ${599 * 5} has an unknown tag 42`,
      }),
    );
    const numbers = columns.numbers.slice();
    numbers[599 * 5] = columns.strings.length; // the serial number's string index, past the table
    expect(() => encodeRowColumns({ ...columns, numbers })).toThrow(
      expect.objectContaining({ code: 'MF_POOL_BATCH_INVALID' }),
    );
    expect(() => encodeRowColumns({ ...columns, strings: columns.strings.map(() => 7 as never) })).toThrow(
      expect.objectContaining({ code: 'MF_POOL_BATCH_INVALID' }),
    );
  });
});
