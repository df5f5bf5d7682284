import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeCsvFile, parseCsvFile, parseCsvTimestamp } from '../../adapters/csv/codec.js';
import { DailyCsvWriter } from '../../adapters/csv/daily-writer.js';
import { csvFormats } from '../../adapters/csv/formats.js';
import { prepaymentRegisterType, prepaymentRows } from '../../adapters/csv/prepayment-rows.js';
import { csvDir } from '../../adapters/csv/reports.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { tempDirs } from './support/files.js';

const tempDir = tempDirs('mf-csv-pp-');
const at = Date.UTC(2020, 3, 13, 21, 39);
const reading = (code: string, value: number, unit: string): CollectedReading => ({
  meterSerial: 'UAAEEDN15200000XXX',
  usagePoint: '1251232',
  kind: 'register',
  quantity: { source: 'obis', code },
  value,
  unit,
  timestampMs: at,
});

describe('PP_ prepayment rows', () => {
  it('is our own column choice (the seed names the file, not its columns), without a cimcode', () => {
    expect(csvFormats.PP.fromSeed).toBe(false);
    expect(encodeCsvFile('PP', [])).toBe('serialnumber;pod;register;type;value;unit;time\n');
  });

  it('writes one row per payment-metering register (account, credits, charges) as read, and ignores energy registers', () => {
    const rows = prepaymentRows([
      reading('1.8.0', 14631.051, 'kWh'),
      reading('0-0:19.0.0*255', 12.34, 'EUR'),
      reading('19.10.0', 10.5, 'EUR'),
      reading('19.10.1', 5, 'EUR'), // e.g. emergency credit
      reading('19.20.0', 0.21, 'EUR'),
      reading('1.6.0', 3.2, 'kW'),
    ]);
    expect(encodeCsvFile('PP', rows).split('\n').slice(1, -1)).toEqual([
      'UAAEEDN15200000XXX;1251232;19.0.0;account;12.34;EUR;2020-04-13 21:39:00.000',
      'UAAEEDN15200000XXX;1251232;19.10.0;credit;10.5;EUR;2020-04-13 21:39:00.000',
      'UAAEEDN15200000XXX;1251232;19.10.1;credit;5;EUR;2020-04-13 21:39:00.000',
      'UAAEEDN15200000XXX;1251232;19.20.0;charge;0.21;EUR;2020-04-13 21:39:00.000',
    ]);
  });

  it('keeps a negative balance (credit in debt) and a zero credit: both are readings, not missing values', () => {
    const rows = prepaymentRows([reading('19.0.0', -3.5, 'EUR'), reading('19.10.0', 0, 'kWh')]);
    expect(rows.map((r) => [r.value, r.unit])).toEqual([
      [-3.5, 'EUR'],
      [0, 'kWh'],
    ]);
  });

  it('only C=19 account (D=0,E=0), credit (D=10,E=0..9) and charge (D=20,E=0..9) registers are prepayment', () => {
    expect(prepaymentRegisterType('19.10.9')).toBe('credit');
    expect(prepaymentRegisterType('19.10.10')).toBeUndefined();
    expect(prepaymentRegisterType('19.40.0')).toBeUndefined();
    expect(prepaymentRegisterType('1.8.0')).toBeUndefined();
    expect(prepaymentRegisterType('0-0:19.20.3&01')).toBe('charge');
  });

  it('refuses a prepayment reading without a unit with MF_CSV_ROW naming meter and register', () => {
    expect(() => prepaymentRows([reading('19.10.0', 4, ' ')])).toThrow(
      expect.objectContaining({
        code: 'MF_CSV_ROW',
        message: expect.stringMatching(/19\.10\.0 of meter UAAEEDN15200000XXX/),
      }),
    );
  });

  it('goes into PP_<day>_<server>.csv in the reading folder and reads back', async () => {
    const out = tempDir();
    const dir = csvDir(out, 'IT', 'PP');
    const writer = await DailyCsvWriter.open({ dir, kind: 'PP', server: '5' });
    await writer.append(prepaymentRows([reading('19.10.0', 10.5, 'EUR')]), { seq: 1, collectedAtMs: at });
    await writer.close();
    const [file] = writer.partsOf('2020-04-13');
    expect(file).toMatch(/IT\/reading\/PP_2020-04-13_5\.csv$/);
    const [row] = parseCsvFile('PP', readFileSync(file!, 'utf8'));
    expect(row).toEqual({
      serialnumber: 'UAAEEDN15200000XXX',
      pod: '1251232',
      register: '19.10.0',
      type: 'credit',
      value: '10.5',
      unit: 'EUR',
      time: '2020-04-13 21:39:00.000',
    });
    expect(parseCsvTimestamp(row!.time!)).toBe(at);
  });
});
