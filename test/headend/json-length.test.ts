import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonLength } from '../../actors/host/json-length.js';

const lengthOf = (v: unknown) => JSON.stringify(v)?.length;

describe('jsonLength', () => {
  it('equals JSON.stringify(value).length for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(jsonLength(v)).toBe(lengthOf(v));
      }),
      { numRuns: 3000 },
    );
  });

  it('equals it for arbitrary values: undefined and functions skipped or null, escapes, -0, NaN, dates, holes', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withSparseArray: true,
          withTypedArray: true,
          withObjectString: true,
          withUnicodeString: true,
        }),
        (v) => {
          expect(jsonLength(v)).toBe(lengthOf(v));
        },
      ),
      { numRuns: 3000 },
    );
    const cases: unknown[] = [
      'a"b\\c\n\u0001\ud800x\udc00',
      { 'k"ey': 1, u: undefined, f: () => 1, s: Symbol('x') },
      [undefined, () => 1, Symbol('y'), Number.NaN, -0, Number.POSITIVE_INFINITY],
      new Date(0),
      { d: new Date(Number.NaN) },
      [-1, -9, -10, 9_007_199_254_740_991, -9_007_199_254_740_991, 2 ** 53, 1e21, 1.5e-7, 0.1],
      Object.assign(Object.create(null), { a: 1 }),
      undefined,
    ];
    for (const v of cases) expect(jsonLength(v)).toBe(lengthOf(v));
  });

  it('equals it for integers at every digit boundary, both signs', () => {
    for (let digits = 1; digits <= 16; digits++) {
      const power = 10 ** (digits - 1);
      for (const n of [
        power - 1,
        power,
        power + 1,
        9 * power,
        Math.min(10 * power - 1, Number.MAX_SAFE_INTEGER),
      ])
        for (const v of [n, -n]) expect(jsonLength(v)).toBe(lengthOf(v));
    }
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        expect(jsonLength(n)).toBe(lengthOf(n));
      }),
      { numRuns: 3000 },
    );
  });

  it('equals it for a routed load profile record (the driver sizes thousands per call)', () => {
    const record = {
      type: 'reading',
      reading: {
        meterSerial: 'UAAEEDN00000000017',
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: 412,
        unit: 'Wh',
        timestampMs: 1_773_108_000_000,
        intervalSeconds: 3600,
      },
      concentratorId: 'TD-3',
      collectedAtMs: 1_773_187_200_000,
    };
    const command = { type: 'append', records: Array.from({ length: 500 }, () => record) };
    expect(jsonLength(command)).toBe(lengthOf(command));
  });
});
