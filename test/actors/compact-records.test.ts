import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packValue, unpackValue } from '../../actors/hosting/compact-records.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { newTLog, type RoutedRecord, route } from '../../actors/tlog/router.js';
import type { CollectedReading, DeviceEvent, InternalQuantity } from '../../adapters/field-data.js';

/** As it travels: JSON (the cluster's encoding) both ways. */
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const roundTrip = <T>(x: T): T => unpackValue<T>(wire(packValue(x)));

const t0 = Date.UTC(2026, 2, 11);
const text = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 8 }));
const serial = fc.oneof(fc.constantFrom('M1', 'M2', 'Zähler-ü', '電表-7', '~rl', ''), text);

const quantity: fc.Arbitrary<InternalQuantity> = fc.oneof(
  fc.record({ source: fc.constant('obis' as const), code: fc.constantFrom('1.8.0', '1.8.1', '32.7.0') }),
  fc.record(
    { source: fc.constant('knx' as const), dpt: fc.constantFrom('13.010', '14.056'), quantity: text },
    { requiredKeys: ['source', 'dpt'] },
  ),
  fc.record({
    source: fc.constant('battery' as const),
    quantity: fc.constantFrom('voltage' as const, 'current' as const),
  }),
  fc.record({
    source: fc.constant('profile' as const),
    quantity: fc.constantFrom('activeImportInterval' as const, 'activeExportInterval' as const),
  }),
);

const reading: fc.Arbitrary<CollectedReading> = fc.record(
  {
    meterSerial: serial,
    usagePoint: fc.oneof(fc.constantFrom('POD-1', 'POD-2'), text),
    kind: fc.constantFrom(
      'register' as const,
      'interval' as const,
      'dailyClosure' as const,
      'instantaneous' as const,
    ),
    quantity,
    value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()),
    unit: fc.constantFrom('Wh', 'kWh', 'V', '°C'),
    timestampMs: fc.oneof(
      fc.integer({ min: 0, max: 96 }).map((i) => t0 + i * 900_000),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    ),
    intervalSeconds: fc.constantFrom(900, 3600),
    qualities: fc.array(fc.constantFrom('1.0.0', '1.4.5', '2.5.259'), { maxLength: 2 }),
  },
  { requiredKeys: ['meterSerial', 'kind', 'quantity', 'value', 'unit', 'timestampMs'] },
);

/** Runs of one meter's consecutive intervals: the common case, where runs form. */
const profile: fc.Arbitrary<CollectedReading[]> = fc
  .tuple(
    serial,
    fc.integer({ min: 1, max: 30 }),
    fc.array(fc.integer({ min: 0, max: 99_999 }), { maxLength: 30 }),
  )
  .map(([meterSerial, start, values]) =>
    values.map((value, i) => ({
      meterSerial,
      usagePoint: `POD-${meterSerial}`,
      kind: 'interval' as const,
      quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
      value: value / 10,
      unit: 'Wh',
      timestampMs: t0 + (start + i) * 3_600_000,
      intervalSeconds: 3600,
    })),
  );

const event: fc.Arbitrary<DeviceEvent> = fc.record(
  {
    deviceId: serial,
    deviceKind: fc.constantFrom('meter' as const, 'concentrator' as const),
    key: fc.constantFrom('meter.relayOpened' as const, 'concentrator.unreachable' as const),
    phase: fc.constantFrom('raised' as const, 'occurred' as const),
    timestampMs: fc.integer({ min: t0, max: t0 + 86_400_000 }),
    details: fc.dictionary(text, text, { maxKeys: 2 }),
    correlationId: text,
  },
  { requiredKeys: ['deviceId', 'deviceKind', 'key', 'phase', 'timestampMs'] },
);

const concentrator = fc.constantFrom('C1', 'C2', 'Ç-3');
const record: fc.Arbitrary<TLogRecord> = fc.oneof(
  fc.record(
    {
      type: fc.constant('reading' as const),
      reading,
      concentratorId: concentrator,
      correlationId: text,
      collectedAtMs: fc.constantFrom(t0, t0 + 60_000),
    },
    { requiredKeys: ['type', 'reading', 'concentratorId', 'collectedAtMs'] },
  ),
  fc.record({
    type: fc.constant('event' as const),
    event,
    concentratorId: concentrator,
    collectedAtMs: fc.constant(t0),
  }),
  fc.record({
    type: fc.constant('statusWord' as const),
    meterSerial: serial,
    concentratorId: concentrator,
    word: fc.integer({ min: 0, max: 0xffff_ffff }),
    timestampMs: fc.constant(t0),
    collectedAtMs: fc.constant(t0),
  }),
  fc.record(
    {
      type: fc.constant('workOrderResult' as const),
      jobId: text,
      correlationId: text,
      concentratorId: concentrator,
      meterSerial: serial,
      action: fc.constantFrom('disconnect' as const, 'meterReading' as const),
      ok: fc.boolean(),
      detail: text,
      collectedAtMs: fc.constant(t0),
    },
    { requiredKeys: ['type', 'jobId', 'concentratorId', 'meterSerial', 'action', 'ok', 'collectedAtMs'] },
  ),
);

const readingRecords = (readings: CollectedReading[], concentratorId = 'C1'): TLogRecord[] =>
  readings.map((r) => ({ type: 'reading', reading: r, concentratorId, collectedAtMs: t0 }));

/** Routed as the TLog router routes them, plus some with ids or streams of their own. */
const routed: fc.Arbitrary<RoutedRecord[]> = fc
  .tuple(fc.array(record, { maxLength: 20 }), profile, fc.array(fc.nat(), { maxLength: 3 }))
  .map(([records, lp, odd]) => {
    const list = route(newTLog(), [...records, ...readingRecords(lp)]).routed;
    for (const i of odd)
      if (list.length > 0) list[i % list.length] = { ...list[i % list.length]!, id: `odd-${i}` };
    return list;
  });

describe('compact records: decode(encode(x)) is x', () => {
  it('reading lists, TLog record lists and routed lists, mixed with events, status words and work-order results', () => {
    fc.assert(
      fc.property(
        fc.array(reading, { maxLength: 30 }),
        profile,
        fc.array(record, { maxLength: 30 }),
        routed,
        (readings, lp, records, routedList) => {
          const value = wire({
            response: { readings: [...lp, ...readings], events: [], statusWords: [], controlResults: [] },
            tlog: { type: 'tlog', records: [...readingRecords(lp), ...records] },
            append: { type: 'append', routed: routedList },
          });
          expect(roundTrip(value)).toStrictEqual(value);
          // The lists were packed (a run of the profile's readings at least), not passed through.
          if (lp.length >= 2) expect(JSON.stringify(packValue(value))).toContain('"~rl":0');
          // In process the packed form is structured-cloned, not JSON-encoded: the same result.
          expect(unpackValue(structuredClone(packValue(value)))).toStrictEqual(value);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an element of each shape with one key more stays in place as it is; a key whose value is undefined counts as absent', () => {
    fc.assert(
      fc.property(
        profile,
        fc.constantFrom('extra', 'id2', 'readings', 'toString'),
        fc.nat(),
        (lp, key, at) => {
          fc.pre(lp.length >= 3);
          const records = readingRecords(lp);
          const routedList = route(newTLog(), records).routed;
          const i = at % lp.length;
          for (const [level, list] of [
            [0, lp],
            [1, records],
            [2, routedList],
          ] as const) {
            const odd = list.map((x, j) => (j === i ? { ...x, [key]: 1 } : x));
            const packed = JSON.stringify(packValue({ list: odd }));
            expect(packed).toContain(`"~rl":${level}`); // the others still packed
            expect(packed).toContain(`"${key}":1`); // the odd one kept as it is
            expect(roundTrip({ list: odd })).toStrictEqual({ list: odd });
            // undefined is not a JSON value: the same list with it packs like the plain list
            const withUndefined = list.map((x, j) => (j === i ? { ...x, [key]: undefined } : x));
            expect(JSON.stringify(packValue({ list: withUndefined }))).toBe(
              JSON.stringify(packValue({ list })),
            );
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('lists whose readings share quantity objects (as unpacked ones do) pack to the same bytes as unshared copies', () => {
    // The packer finds a reading's type by its quantity object first (issue 7): a reading that
    // shares the object but differs in kind, unit, interval or qualities must still get its
    // own row, and a shared object must give the rows and indexes of the JSON-keyed table.
    const shared = fc
      .tuple(
        fc.array(quantity, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(reading, fc.nat()), { minLength: 2, maxLength: 40 }),
        fc.constantFrom<0 | 1 | 2>(0, 1, 2),
      )
      .map(([quantities, rows, level]) => {
        const readings = rows.map(([r, q]) => ({ ...r, quantity: quantities[q % quantities.length]! }));
        const records = readingRecords(readings);
        return level === 0 ? readings : level === 1 ? records : route(newTLog(), records).routed;
      });
    fc.assert(
      fc.property(shared, (list) => {
        expect(JSON.stringify(packValue(list))).toBe(JSON.stringify(packValue(wire(list))));
        expect(roundTrip(list)).toStrictEqual(wire(list));
      }),
      { numRuns: 400 },
    );
    // Unpacked lists share their quantity objects: packing one again gives the packed bytes back.
    const lp = Array.from({ length: 48 }, (_, i) => ({
      meterSerial: `M${i % 3}`,
      kind: i % 2 === 0 ? 'interval' : 'register',
      quantity: { source: 'obis' as const, code: i % 4 < 2 ? '1.8.0' : '2.8.0' },
      value: i,
      unit: i % 8 < 4 ? 'Wh' : 'kWh',
      timestampMs: t0 + i * 900_000,
    }));
    const packed = wire(packValue(lp));
    expect(JSON.stringify(packValue(unpackValue(packed)))).toBe(JSON.stringify(packed));
  });

  it('any JSON value at all, including objects that use the marker keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.array(reading, { minLength: 2, maxLength: 4 }), (json, readings) => {
        const value = wire({
          json,
          marked: { '~rl': 0, n: 2, other: readings },
          esc: { '~esc': json },
          readings,
        });
        expect(roundTrip(value)).toStrictEqual(value);
        // JSON itself turns -0 into 0: compared with what the wire gives.
        expect(roundTrip(json)).toStrictEqual(wire(json));
      }),
      { numRuns: 300 },
    );
  });

  it('a day of one meter packs to a few bytes per reading', () => {
    const readings: CollectedReading[] = Array.from({ length: 24 }, (_, i) => ({
      meterSerial: 'TD-100002',
      usagePoint: 'IT001E100002',
      kind: 'interval',
      quantity: { source: 'profile', quantity: 'activeImportInterval' },
      value: 412.5 + i,
      unit: 'Wh',
      timestampMs: t0 + (i + 1) * 3_600_000,
      intervalSeconds: 3600,
    }));
    const routedList = route(newTLog(), readingRecords(readings)).routed;
    const plainBytes = JSON.stringify(routedList).length;
    const packedBytes = JSON.stringify(packValue(routedList)).length;
    expect(plainBytes / 24).toBeGreaterThan(300);
    expect(packedBytes / 24).toBeLessThan(15);
    expect(roundTrip(routedList)).toStrictEqual(wire(routedList));
  });
});

describe('compact records: malformed packed input', () => {
  const packed = () =>
    wire(
      packValue({
        readings: [
          {
            meterSerial: 'M1',
            kind: 'register',
            quantity: { source: 'obis', code: '1.8.0' },
            value: 1,
            unit: 'kWh',
            timestampMs: t0,
          },
          {
            meterSerial: 'M2',
            kind: 'register',
            quantity: { source: 'obis', code: '1.8.0' },
            value: 2,
            unit: 'kWh',
            timestampMs: t0,
          },
        ],
      }),
    ) as { readings: { m: unknown[]; t: unknown[]; r: number[]; n: number } };

  const cases: [string, (p: ReturnType<typeof packed>) => void][] = [
    [
      'a meter index past its table',
      (p) => {
        p.readings.r[0] = 7;
      },
    ],
    [
      'a type index past its table',
      (p) => {
        p.readings.r[1] = -1;
      },
    ],
    [
      'a run that is not numbers',
      (p) => {
        p.readings.r[6] = 'x' as never;
      },
    ],
    [
      'a run count past the end of the runs',
      (p) => {
        p.readings.r[5] = 99;
      },
    ],
    [
      'a count that does not match the runs',
      (p) => {
        p.readings.n = 3;
      },
    ],
    [
      'a huge count (refused before it is allocated)',
      (p) => {
        p.readings.n = 2 ** 40;
      },
    ],
    [
      'a type row of the wrong shape',
      (p) => {
        p.readings.t[0] = ['register'];
      },
    ],
    [
      'a meter row of the wrong shape',
      (p) => {
        p.readings.m[0] = [1];
      },
    ],
    [
      'a meter prefix longer than the previous serial',
      (p) => {
        p.readings.m[0] = [3, 'M1'];
      },
    ],
  ];
  for (const [name, spoil] of cases)
    it(`${name} is refused with MF_COMPACT_INVALID`, () => {
      const p = packed();
      spoil(p);
      expect(() => unpackValue(p)).toThrow(expect.objectContaining({ code: 'MF_COMPACT_INVALID' }));
    });
});
