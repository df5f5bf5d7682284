import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CsvRow,
  type CsvValue,
  csvField,
  encodeCsvRows,
  encodeCsvRowsWithStringify,
} from '../../adapters/csv/codec.js';
import { encodeRowColumns, packRows } from '../../adapters/csv/columnar-rows.js';
import { type CsvKind, csvFormats, dailyKinds, reportKinds } from '../../adapters/csv/formats.js';

// encodeCsvRows builds its lines itself; csv-stringify (encodeCsvRowsWithStringify) is the
// reference: the same text for any rows, the same error for the same first bad cell.

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.stringMatching(/^[A-Za-z0-9;"\n\r ,'.-]{0,12}$/),
  fc.constantFrom('', 'M1', '2026-01-01 00:15:00.000', 'a;b', 'say "hi"', 'x\r\ny'),
);
const instant = fc.oneof(
  fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }),
  fc.constantFrom(Date.UTC(2026, 2, 29, 1, 30), Date.UTC(2026, 9, 25, 0, 30), 8.64e15 + 1),
);
const value: fc.Arbitrary<CsvValue> = fc.oneof(
  text,
  instant,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constantFrom(null, undefined, 0, -0, 1e21, 5e-324),
);

function rowOf(kind: CsvKind): fc.Arbitrary<CsvRow> {
  const { columns, timeColumns } = csvFormats[kind];
  const cells = columns.map((c) =>
    // Mostly well-formed (times in time columns), sometimes anything, sometimes missing.
    fc.oneof(
      { weight: 6, arbitrary: timeColumns.includes(c) ? instant : value },
      { weight: 2, arbitrary: value },
      { weight: 1, arbitrary: fc.constant(Symbol.for('missing')) },
    ),
  );
  return fc
    .tuple(fc.tuple(...cells), fc.option(fc.constantFrom('extra', 'bogus'), { freq: 20 }))
    .map(([values, extra]) => {
      const row: CsvRow = {};
      columns.forEach((c, i) => {
        if (values[i] !== Symbol.for('missing')) row[c] = values[i] as CsvValue;
      });
      if (extra) row[extra] = 1;
      return row;
    });
}

function outcome(encode: () => string): string {
  try {
    return encode();
  } catch (err) {
    return `threw ${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
}

describe('CSV lines built without csv-stringify', () => {
  it('quote a cell exactly as csv-stringify does (property)', () => {
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 5 }), (cells) => {
        expect(cells.map(csvField).join(';') + '\n').toBe(
          stringify([cells], { delimiter: ';', record_delimiter: '\n' }),
        );
      }),
      { numRuns: 1000 },
    );
  });

  for (const kind of [...dailyKinds, ...reportKinds])
    it(`give the reference's text or error for ${kind} rows (property)`, () => {
      fc.assert(
        fc.property(
          fc.array(rowOf(kind), { maxLength: 12 }),
          fc.constantFrom(undefined, 'UTC', 'Europe/Rome'),
          (rows, timeZone) => {
            const options = timeZone === undefined ? {} : { timeZone };
            expect(outcome(() => encodeCsvRows(kind, rows, options))).toBe(
              outcome(() => encodeCsvRowsWithStringify(kind, rows, options)),
            );
          },
        ),
        { numRuns: 60 },
      );
    });

  for (const kind of ['S', 'DC', 'MeterReport'] as const)
    it(`give the reference's text or error for ${kind} rows straight from packed cells (property)`, () => {
      fc.assert(
        fc.property(fc.array(rowOf(kind), { maxLength: 12 }), (rows) => {
          const packed = packRows(kind, rows);
          if (!('columns' in packed)) return; // rows with a key that is not a column travel as they are
          expect(outcome(() => encodeRowColumns(packed.columns))).toBe(
            outcome(() => encodeCsvRowsWithStringify(kind, rows)),
          );
        }),
        { numRuns: 150 },
      );
    });

  it('format a repeated timestamp once per batch but write it on every row', () => {
    const at = Date.UTC(2026, 0, 1, 0, 15);
    const rows = ['M1', 'M2', 'M3'].map((serialnumber) => ({
      serialnumber,
      pod: 'P;1',
      value: 12.5,
      state: 0,
      cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
      sampledate: at,
    }));
    expect(encodeCsvRows('S', rows)).toBe(
      'M1;"P;1";12.5;0;0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0;2026-01-01 00:15:00.000\n' +
        'M2;"P;1";12.5;0;0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0;2026-01-01 00:15:00.000\n' +
        'M3;"P;1";12.5;0;0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0;2026-01-01 00:15:00.000\n',
    );
  });
});
