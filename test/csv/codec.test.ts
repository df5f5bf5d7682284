import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeCsvFile,
  formatCsvTimestamp,
  parseCsvFile,
  parseCsvTimestamp,
} from '../../adapters/csv/codec.js';
import { type CsvKind, csvFormats, dailyKinds, reportKinds } from '../../adapters/csv/formats.js';
import { loadProfileRows, registerRows } from '../../adapters/csv/rows.js';

// Header lines and example rows as printed in the SMMePlus seed, §2.5.1.1.
const seedHeaders: Partial<Record<CsvKind, string>> = {
  S: 'serialnumber;pod;value;state;cimcode;sampledate',
  DC: 'serialnumber;t1;t2;t3;t4;t5;t6;tot;energytype;energytype_description;time',
  VV: 'serialnumber;pod;type;value;time',
};

describe('SMMePlus CSV layout', () => {
  it('writes the header lines exactly as the seed prints them', () => {
    for (const [kind, header] of Object.entries(seedHeaders))
      expect(encodeCsvFile(kind as CsvKind, []).split('\n')[0]).toBe(header);
    expect(csvFormats.MeterReport.columns.join(',')).toBe(
      'mertytype,serialnumber,serialnumberboard,macaddress,firmwareid,hardwareid,insertdateutc,lastupdateutc',
    );
  });

  it("reproduces the seed's S_ example row from a collected hourly interval", () => {
    const rows = loadProfileRows([
      {
        meterSerial: 'UAAEEDN15200000XXX',
        usagePoint: '1251232',
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: 0.364,
        unit: 'kWh',
        timestampMs: Date.UTC(2018, 11, 16, 1),
        intervalSeconds: 3600,
      },
    ]);
    expect(encodeCsvFile('S', rows).split('\n')[1]).toBe(
      'UAAEEDN15200000XXX;1251232;364;0;0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0;2018-12-16 01:00:00.000',
    );
  });

  it("reproduces the seed's DC_ example row from daily-closure registers", () => {
    const base = {
      meterSerial: 'UAAEEDN15200000XXX',
      kind: 'dailyClosure' as const,
      unit: 'Wh',
      timestampMs: Date.UTC(2019, 0, 1),
    };
    const rows = registerRows(
      [
        { ...base, quantity: { source: 'obis', code: '1.8.0' }, value: 7743059 },
        { ...base, quantity: { source: 'obis', code: '1.8.1' }, value: 7743059 },
        ...[2, 3, 4, 5].map((t) => ({
          ...base,
          quantity: { source: 'obis' as const, code: `1.8.${t}` },
          value: 0,
        })),
      ],
      'dailyClosure',
    );
    // The seed's example (its line is broken in the PDF): 6 tariff columns are listed, but the
    // example shows 5 values before tot; we emit all six, t6 empty because the meter sent no 1.8.6.
    expect(encodeCsvFile('DC', rows).split('\n')[1]).toBe(
      'UAAEEDN15200000XXX;7743059;0;0;0;0;;7743059;8;Active Energy Import Previous;2019-01-01 00:00:00.000',
    );
  });

  it('writes a tariff register the meter did not report as an empty cell (null), not as 0', () => {
    const base = {
      meterSerial: 'M1',
      kind: 'dailyClosure' as const,
      unit: 'kWh',
      timestampMs: Date.UTC(2019, 0, 1),
    };
    // Only tot and t1 were collected; t2 was collected and really is 0.
    const rows = registerRows(
      [
        { ...base, quantity: { source: 'obis', code: '1.8.0' }, value: 12.5 },
        { ...base, quantity: { source: 'obis', code: '1.8.1' }, value: 12.5 },
        { ...base, quantity: { source: 'obis', code: '1.8.2' }, value: 0 },
      ],
      'dailyClosure',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ t1: 12500, t2: 0, t3: null, t4: null, t5: null, t6: null, tot: 12500 });
    const text = encodeCsvFile('DC', rows);
    expect(text.split('\n')[1]).toBe(
      'M1;12500;0;;;;;12500;8;Active Energy Import Previous;2019-01-01 00:00:00.000',
    );
    const [back] = parseCsvFile('DC', text);
    expect(back).toMatchObject({ t2: '0', t3: '', t6: '' });
    // A meter that sent no total at all: tot is empty too, not a fabricated 0.
    const [noTotal] = registerRows(
      [{ ...base, quantity: { source: 'obis', code: '1.8.1' }, value: 1 }],
      'dailyClosure',
    );
    expect(noTotal!.tot).toBeNull();
  });

  it('formats and parses timestamps as yyyy-mm-dd HH:MM:SS.fff', () => {
    expect(formatCsvTimestamp(Date.UTC(2020, 3, 13, 23, 59, 1, 7))).toBe('2020-04-13 23:59:01.007');
    expect(parseCsvTimestamp('2020-04-13 23:59:01.007')).toBe(Date.UTC(2020, 3, 13, 23, 59, 1, 7));
    expect(() => parseCsvTimestamp('2020-04-13T23:59:01Z')).toThrow(
      expect.objectContaining({ code: 'MF_CSV_ROW' }),
    );
  });

  it('refuses rows with a missing or unknown column, or a non-finite number, naming it', () => {
    const row = { serialnumber: 'M', pod: 'P', type: 1, value: 230, time: 0 };
    expect(() => encodeCsvFile('VV', [{ ...row, extra: 1 }])).toThrow(/unknown column "extra"/);
    const { pod: _pod, ...missing } = row;
    expect(() => encodeCsvFile('VV', [missing])).toThrow(/column "pod" is missing/);
    expect(() => encodeCsvFile('VV', [{ ...row, value: Number.NaN }])).toThrow(
      expect.objectContaining({ code: 'MF_CSV_ROW' }),
    );
    expect(() => encodeCsvFile('VV', [{ ...row, time: '2020-01-01' }])).toThrow(/instant in ms/);
  });

  it('refuses to read back a file whose header is not the kind', () => {
    expect(() => parseCsvFile('S', 'serialnumber;pod\nA;B\n')).toThrow(
      expect.objectContaining({ code: 'MF_CSV_HEADER' }),
    );
  });

  it('round-trips every kind: separators, quoting, numbers and timestamps survive read-back', () => {
    const text = fc.stringMatching(/^[A-Za-z0-9 ;"'\n.,_-]{0,16}$/);
    const value = fc.oneof(
      fc.integer({ min: -1e12, max: 1e12 }),
      fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true }),
      text,
      fc.boolean(),
      fc.constant(null),
    );
    const instant = fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) });
    for (const kind of [...dailyKinds, ...reportKinds]) {
      const { columns, timeColumns } = csvFormats[kind];
      const row = fc.record(
        Object.fromEntries(columns.map((c) => [c, timeColumns.includes(c) ? instant : value])),
      );
      fc.assert(
        fc.property(fc.array(row, { maxLength: 8 }), (rows) => {
          const back = parseCsvFile(kind, encodeCsvFile(kind, rows));
          expect(back).toHaveLength(rows.length);
          rows.forEach((r, i) => {
            for (const c of columns) {
              const v = r[c];
              const got = back[i]![c]!;
              if (timeColumns.includes(c)) expect(parseCsvTimestamp(got)).toBe(v);
              else if (typeof v === 'number')
                expect(Number(got)).toBe(v + 0); // -0 is written as 0
              else if (typeof v === 'boolean') expect(got).toBe(v ? 'True' : 'False');
              else expect(got).toBe(v ?? '');
            }
          });
        }),
        { numRuns: 30 },
      );
    }
  });
});
