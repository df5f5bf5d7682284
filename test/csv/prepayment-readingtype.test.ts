import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeMeterReadings, parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { describeReadingType, readingTypeFieldsOf } from '../../adapters/cim/reading-type.js';
import { readingTypeFor, unitOfCode, valueInCodeUnit } from '../../adapters/cim/reading-type-map.js';
import { maximumPowerRows } from '../../adapters/csv/rows.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { validateAll } from '../headend/output-check.js';

/**
 * Prepayment (PP_) and maximum demand (MP_) values also go out in CIM MeterReadings: their
 * ReadingTypes come from the one mapping table, and the messages validate against the XSDs.
 */
const at = Date.UTC(2026, 2, 10, 23);
const closure = (code: string, value: number, unit: string, timestampMs = at): CollectedReading => ({
  meterSerial: 'UAAEEDN17204600001',
  usagePoint: '1200001',
  kind: 'dailyClosure',
  quantity: { source: 'obis', code },
  value,
  unit,
  timestampMs,
});

describe('payment-metering ReadingTypes', () => {
  it('19.10.0 credit, 19.0.0 account and 19.20.0 charge are currency amounts in euro, each with its own code', () => {
    const codes = ['19.10.0', '19.0.0', '19.20.0'].map((code) =>
      readingTypeFor({ source: 'obis', code }, 'dailyClosure'),
    );
    expect(new Set(codes).size).toBe(3);
    for (const code of codes) {
      const f = readingTypeFieldsOf(code);
      expect([f.macroPeriod, f.measurementKind, f.unit, f.multiplier, f.currency]).toEqual([
        11, 3, 0, 0, 978,
      ]);
      expect(unitOfCode(code)).toBe('EUR');
      // Every field has a name, so `meterfabric cim readingtype` describes it in words.
      expect(describeReadingType(code)).toMatchObject({ unknownFields: [] });
      expect(describeReadingType(code).words).toMatch(/currency/);
    }
    expect(readingTypeFieldsOf(codes[0]!).accumulation).toBe(12); // a balance: the value at the instant
    expect(readingTypeFieldsOf(codes[1]!).aggregate).toBe(26); // the account: sum of its credits
    expect(readingTypeFieldsOf(codes[2]!).accumulation).toBe(1); // collected so far: a register
  });

  it('a euro value passes unchanged; another currency or an energy credit under a euro code is refused with MF_CIM_CODE', () => {
    const code = readingTypeFor({ source: 'obis', code: '19.10.0' }, 'dailyClosure');
    expect(valueInCodeUnit(12.34, 'EUR', code)).toBe(12.34);
    expect(() => valueInCodeUnit(12.34, 'GBP', code)).toThrow(
      /GBP cannot be reported under ReadingType .* currency is ISO 4217 978/,
    );
    expect(() => valueInCodeUnit(12.34, 'kWh', code)).toThrow(
      expect.objectContaining({
        code: 'MF_CIM_CODE',
        message: expect.stringMatching(/kWh cannot be reported/),
      }),
    );
    // ... and money under an energy code.
    expect(() =>
      valueInCodeUnit(1, 'EUR', readingTypeFor({ source: 'obis', code: '1.8.0' }, 'register')),
    ).toThrow(/currency is none/);
  });

  it('other credits and charges (E = 1..9) have no CIM code: MF_UNKNOWN_QUANTITY rather than a shared, ambiguous one', () => {
    expect(() => readingTypeFor({ source: 'obis', code: '19.10.1' }, 'dailyClosure')).toThrow(
      expect.objectContaining({ code: 'MF_UNKNOWN_QUANTITY' }),
    );
  });

  it('a closure with maximum demand and prepayment registers encodes to a schema-valid MeterReadings message with the same values', async () => {
    const peak = at - 4 * 3_600_000 + 15 * 60_000;
    const readings = [
      closure('1.8.0', 14_631_051, 'Wh'),
      closure('1.6.0', 3.456, 'kW', peak),
      closure('19.10.0', 23.45, 'EUR'),
      closure('19.20.0', 1.07, 'EUR'),
    ];
    const xml = encodeMeterReadings(readings, { source: 'meterfabric-test' });
    const dir = await mkdtemp(join(tmpdir(), 'mf-pp-cim-'));
    try {
      const file = join(dir, 'pp.xml');
      await writeFile(file, xml);
      expect(await validateAll([file])).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const [mr] = parseMeterReadingsMessage(xml).meterReadings;
    const byCode = new Map(mr!.readings.map((r) => [r.readingType, r]));
    const md = byCode.get(readingTypeFor({ source: 'obis', code: '1.6.0' }, 'dailyClosure'));
    expect(Number(md?.value)).toBe(3.456);
    expect(Date.parse(md!.timeStamp!)).toBe(peak);
    expect(
      Number(byCode.get(readingTypeFor({ source: 'obis', code: '19.10.0' }, 'dailyClosure'))?.value),
    ).toBe(23.45);
    expect(
      Number(byCode.get(readingTypeFor({ source: 'obis', code: '19.20.0' }, 'dailyClosure'))?.value),
    ).toBe(1.07);
    // The MP_ row of the same maximum demand: kW, daily-closure code, stamped at the peak.
    expect(maximumPowerRows(readings)).toEqual([
      {
        serialnumber: 'UAAEEDN17204600001',
        pod: '1200001',
        value: 3.456,
        cimcode: readingTypeFor({ source: 'obis', code: '1.6.0' }, 'dailyClosure'),
        time: peak,
      },
    ]);
  });
});
