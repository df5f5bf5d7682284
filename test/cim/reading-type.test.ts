import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  describeReadingType,
  formatReadingType,
  parseReadingType,
  readingTypeFieldOrder,
} from '../../adapters/cim/reading-type.js';
import {
  knownQuantities,
  quantityForReadingType,
  readingKinds,
  readingTypeFor,
  repairSeedReadingType,
  unitOfCode,
  valueInCodeUnit,
} from '../../adapters/cim/reading-type-map.js';

// Golden vectors: ../shared/reference/ami-cim.md (b), "Decoding the brief's examples", which
// decodes them against the IEC 61968-9 enumerations (Connexo cbo enums).
describe('ReadingType value type', () => {
  it('decodes the reference examples field by field', () => {
    const hourly = parseReadingType('0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0');
    expect(hourly).toMatchObject({
      measuringPeriod: 7,
      accumulation: 4,
      flowDirection: 1,
      commodity: 1,
      measurementKind: 12,
      multiplier: 0,
      unit: 72,
    });
    expect(describeReadingType('0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0').words).toBe(
      '60-minute interval, delta data, forward (import), electricity secondary metered, energy, in Wh',
    );
    expect(describeReadingType('0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0').words).toContain(
      'bulk quantity (register)',
    );
    expect(describeReadingType('0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0').words).toContain('in kWh');
    expect(describeReadingType('11.0.0.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0').named.macroPeriod).toBe('daily');
    expect(parseReadingType('0.0.0.12.0.1.54.0.0.0.0.0.0.0.129.0.29.0').phases).toBe(129);
  });

  it("flags the seed's malformed daily-closure code (field 6 = 12 is not electricity)", () => {
    const d = describeReadingType('0.0.16.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0');
    expect(d.named.measuringPeriod).toBe('previous');
    expect(d.unknownFields).toContain('commodity');
  });

  it('formats what it parses (property over all 18 fields)', () => {
    const field = fc.integer({ min: 0, max: 999_999 });
    fc.assert(
      fc.property(
        fc.array(field, { minLength: 18, maxLength: 18 }),
        fc.integer({ min: -9, max: 9 }),
        (values, multiplier) => {
          values[15] = multiplier;
          const code = values.join('.');
          expect(formatReadingType(parseReadingType(code))).toBe(code);
        },
      ),
    );
  });

  it('rejects codes with the wrong field count, non-numbers or negative fields, naming the field', () => {
    expect(() => parseReadingType('0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0')).toThrow(/19 fields/);
    expect(() => parseReadingType('0.0.7.4.1.1.x.0.0.0.0.0.0.0.0.0.72.0')).toThrow(
      /field 7 \(measurementKind\)/,
    );
    expect(() => parseReadingType('0.0.7.-4.1.1.12.0.0.0.0.0.0.0.0.0.72.0')).toThrow(/only the multiplier/);
    expect(() => parseReadingType('1'.repeat(200))).toThrow(expect.objectContaining({ code: 'MF_CIM_CODE' }));
    expect(readingTypeFieldOrder).toHaveLength(18);
  });
});

describe('mapping table: internal quantities -> ReadingType', () => {
  it('maps OBIS registers, tariffs, profiles and instantaneous values to the reference codes', () => {
    expect(readingTypeFor({ source: 'obis', code: '1.8.0' }, 'register')).toBe(
      '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0',
    );
    expect(readingTypeFor({ source: 'obis', code: '1-0:1.8.0*255' }, 'register')).toBe(
      '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0',
    );
    expect(readingTypeFor({ source: 'obis', code: '1.8.2' }, 'dailyClosure')).toBe(
      '11.0.0.1.1.1.12.0.0.0.0.2.0.0.0.3.72.0',
    );
    expect(readingTypeFor({ source: 'obis', code: '2.8.0' }, 'register')).toBe(
      '0.0.0.1.19.1.12.0.0.0.0.0.0.0.0.3.72.0',
    );
    expect(
      readingTypeFor({ source: 'profile', quantity: 'activeImportInterval' }, 'interval', 'standard', {
        intervalSeconds: 900,
      }),
    ).toBe('0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0');
    expect(readingTypeFor({ source: 'profile', quantity: 'activeExportInterval' }, 'interval')).toBe(
      '0.0.7.4.19.1.12.0.0.0.0.0.0.0.0.0.72.0',
    );
    expect(readingTypeFor({ source: 'obis', code: '32.7.0' }, 'instantaneous')).toBe(
      '0.0.0.12.0.1.54.0.0.0.0.0.0.0.144.0.29.0',
    );
    expect(readingTypeFor({ source: 'knx', dpt: '13.010' }, 'register')).toBe(
      '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
    );
    expect(readingTypeFor({ source: 'knx', dpt: '13.013' }, 'register')).toBe(
      '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0',
    );
    expect(readingTypeFor({ source: 'knx', dpt: '14.056' }, 'instantaneous')).toBe(
      '0.0.0.12.1.1.37.0.0.0.0.0.0.0.0.0.38.0',
    );
    expect(readingTypeFor({ source: 'battery', quantity: 'stateOfCharge' }, 'instantaneous')).not.toBe(
      readingTypeFor({ source: 'battery', quantity: 'stateOfHealth' }, 'instantaneous'),
    );
  });

  it("reproduces the seed's own code strings exactly in the seed-compat profile", () => {
    expect(readingTypeFor({ source: 'obis', code: '1.8.0' }, 'dailyClosure', 'seed-compat')).toBe(
      '0.0.16.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0',
    );
    for (let t = 1; t <= 6; t++)
      expect(readingTypeFor({ source: 'obis', code: `1.8.${t}` }, 'dailyClosure', 'seed-compat')).toBe(
        `0.0.16.9.1.1.12.0.0.0.0.${t}.0.0.0.0.72.0`,
      );
    expect(
      readingTypeFor({ source: 'profile', quantity: 'activeImportInterval' }, 'interval', 'seed-compat'),
    ).toBe('0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0');
    // A quantity the seed never shows falls back to the standard code.
    expect(readingTypeFor({ source: 'obis', code: '2.8.0' }, 'dailyClosure', 'seed-compat')).toBe(
      readingTypeFor({ source: 'obis', code: '2.8.0' }, 'dailyClosure'),
    );
  });

  it('throws MF_UNKNOWN_QUANTITY for the meter clock, unknown OBIS/DPTs and intervals without a CIM period', () => {
    for (const code of ['0.9.1', '0.9.2', '99.99.99', 'C.1.0'])
      expect(() => readingTypeFor({ source: 'obis', code }, 'register')).toThrow(
        expect.objectContaining({ code: 'MF_UNKNOWN_QUANTITY' }),
      );
    expect(() => readingTypeFor({ source: 'knx', dpt: '1.001' }, 'register')).toThrow(
      expect.objectContaining({ code: 'MF_UNKNOWN_QUANTITY' }),
    );
    expect(() =>
      readingTypeFor({ source: 'profile', quantity: 'activeImportInterval' }, 'interval', 'standard', {
        intervalSeconds: 120,
      }),
    ).toThrow(/120 s has no CIM measuring period/);
  });

  it('every known quantity and kind yields a parseable code that maps back to the same code', () => {
    for (const q of knownQuantities())
      for (const kind of readingKinds)
        for (const profile of ['standard', 'seed-compat'] as const) {
          const code = readingTypeFor(q, kind, profile);
          expect(() => parseReadingType(code)).not.toThrow();
          const back = quantityForReadingType(code);
          expect(back).toBeDefined();
          expect(
            readingTypeFor(
              back!.quantity,
              back!.kind,
              profile,
              back!.intervalSeconds ? { intervalSeconds: back!.intervalSeconds } : {},
            ),
          ).toBe(code);
        }
  });

  it('converts values into the unit of the code and refuses a unit that does not fit', () => {
    expect(valueInCodeUnit(14631.051, 'kWh', '0.0.16.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0')).toBe(14631051);
    expect(valueInCodeUnit(430, 'Wh', '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0')).toBe(0.43);
    expect(
      valueInCodeUnit(
        55,
        '%',
        readingTypeFor({ source: 'battery', quantity: 'stateOfCharge' }, 'instantaneous'),
      ),
    ).toBe(55);
    expect(() => valueInCodeUnit(1, 'V', '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0')).toThrow(/unit is Wh/);
    expect(() => valueInCodeUnit(1, 'furlong', '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0')).toThrow(/not known/);
    expect(unitOfCode('0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0')).toBe('kWh');
  });

  it("repairs only the seed's known 19-field load-profile typo on input", () => {
    expect(repairSeedReadingType('0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0')).toBe(
      '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
    );
    expect(repairSeedReadingType('1.2.3')).toBe('1.2.3');
  });
});
