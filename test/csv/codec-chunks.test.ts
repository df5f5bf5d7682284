import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { type CsvRow, encodeCsvRows, rowCells } from '../../adapters/csv/codec.js';
import { CSV_DELIMITER, CSV_RECORD_DELIMITER } from '../../adapters/csv/formats.js';

/** encodeCsvRows calls csv-stringify per chunk of rows (its temporaries die young): same text. */
describe('CSV encode in chunks', () => {
  const rows = (count: number): CsvRow[] =>
    Array.from({ length: count }, (_, i) => ({
      serialnumber: `M${i}`,
      pod: i % 7 === 0 ? `IT;${i}` : i % 11 === 0 ? `quote "${i}"` : `POD${i}`,
      type: i % 3 === 0 ? 'max\nvoltage' : 'min voltage',
      value: i * 1.5,
      time: Date.UTC(2026, 2, 10) + i * 60_000,
    }));

  it('writes the same lines as one csv-stringify call over every row, quoting included', () => {
    for (const count of [1, 255, 256, 257, 1_000, 5_000]) {
      const all = rows(count);
      const reference = stringify(rowCells('VV', all), {
        delimiter: CSV_DELIMITER,
        record_delimiter: CSV_RECORD_DELIMITER,
      });
      expect(encodeCsvRows('VV', all)).toBe(reference);
    }
  });

  it('names a bad row by its index in the whole batch, not in its chunk', () => {
    const all = rows(1_000);
    all[700] = { ...all[700]!, value: Number.NaN };
    expect(() => encodeCsvRows('VV', all)).toThrow(
      expect.objectContaining({ code: 'MF_CSV_ROW', message: expect.stringMatching(/^VV row 700: /) }),
    );
  });
});
