import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packValue, unpackValue } from '../../actors/hosting/compact-records.js';
import { buildOutputBatch, withUsagePoint } from '../../actors/integration/output-batch.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { newTLog, type RoutedRecord, route } from '../../actors/tlog/router.js';
import { loadProfileRows, registerRows } from '../../adapters/csv/rows.js';
import type { CollectedReading } from '../../adapters/field-data.js';

const t0 = Date.UTC(2026, 10, 23, 0, 15);

/** What the copy must equal: the spread it replaces (same own keys, same order, same values). */
const spread = (r: CollectedReading, usagePoint: string) => ({ ...r, usagePoint });
const sameCopy = (got: CollectedReading, want: CollectedReading) => {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  expect(JSON.stringify(got)).toBe(JSON.stringify(want));
  expect(got).toStrictEqual(want);
};

const reading = fc.record(
  {
    meterSerial: fc.string(),
    usagePoint: fc.option(fc.string(), { nil: undefined }),
    kind: fc.constantFrom('register', 'interval', 'dailyClosure', 'instantaneous'),
    quantity: fc.constant({ source: 'obis', code: '1.8.0' }),
    value: fc.double(),
    unit: fc.string(),
    timestampMs: fc.integer({ min: 0, max: 2 ** 42 }),
    intervalSeconds: fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: undefined }),
    qualities: fc.array(fc.constantFrom('1.0.0', '1.4.5')),
    extra: fc.string(),
  },
  { requiredKeys: ['meterSerial', 'kind', 'quantity', 'value', 'unit', 'timestampMs'] },
) as fc.Arbitrary<CollectedReading>;

/** The same keys in another order (the spread keeps the reading's order; so must the copy). */
const shuffled = (r: CollectedReading, order: number[]): CollectedReading => {
  const keys = Object.keys(r);
  const out: Record<string, unknown> = {};
  for (const i of order) if (i < keys.length) out[keys[i]!] = (r as Record<string, unknown>)[keys[i]!];
  for (const k of keys) if (!(k in out)) out[k] = (r as Record<string, unknown>)[k];
  return out as CollectedReading;
};

describe('integration output: a reading with the usage point filled in', () => {
  it('equals { ...reading, usagePoint } (own keys, their order, values) for arbitrary readings: any optional keys, extra or undefined-valued keys, any key order', () => {
    fc.assert(
      fc.property(reading, fc.string(), fc.array(fc.nat(10)), (r, pod, order) => {
        sameCopy(withUsagePoint(r, pod), spread(r, pod));
        const reordered = shuffled(r, order);
        sameCopy(withUsagePoint(reordered, pod), spread(reordered, pod));
      }),
      { numRuns: 500 },
    );
  });

  it('equals the spread for every shape the unpacker builds (intervals and qualities present or not), and an undefined-valued key or an object with another prototype is spread', () => {
    const base = {
      meterSerial: 'M1',
      kind: 'interval',
      quantity: { source: 'obis', code: '1.8.0' },
      value: 1.5,
      unit: 'kWh',
      timestampMs: t0,
    } as CollectedReading;
    const shapes: CollectedReading[] = [
      base,
      { ...base, intervalSeconds: 900 },
      { ...base, qualities: ['1.4.5'] },
      { ...base, intervalSeconds: 900, qualities: [] },
      { ...base, intervalSeconds: undefined },
      { ...base, usagePoint: undefined },
      Object.assign(Object.create({ inherited: 1 }) as object, base) as CollectedReading,
    ];
    for (const r of shapes) sameCopy(withUsagePoint(r, 'IT001E1'), spread(r, 'IT001E1'));
  });

  it('buildOutputBatch over an unpacked routed list: the same readings (keys in order) and the same S, DC and R rows as when each reading is spread', () => {
    const readings: CollectedReading[] = [];
    for (let m = 0; m < 4; m++)
      for (let k = 0; k < 6; k++) {
        readings.push({
          meterSerial: `M${m}`,
          kind: 'interval',
          quantity: { source: 'profile', quantity: 'activeImportInterval' },
          value: m + k / 4,
          unit: 'kWh',
          timestampMs: t0 + k * 900_000,
          intervalSeconds: 900,
          ...(k === 2 ? { qualities: ['1.4.5'] } : {}),
        });
        readings.push({
          meterSerial: `M${m}`,
          kind: k % 2 ? 'register' : 'dailyClosure',
          quantity: { source: 'obis', code: '1.8.0' },
          value: 1000 + m * k,
          unit: 'kWh',
          timestampMs: t0 + k * 86_400_000,
        });
      }
    const records: TLogRecord[] = readings.map((r) => ({
      type: 'reading',
      concentratorId: 'C1',
      collectedAtMs: t0,
      reading: r,
    }));
    // As the driver gets it: packed by the integration actor's reply, unpacked in the driver.
    const routed = unpackValue<RoutedRecord[]>(
      JSON.parse(JSON.stringify(packValue(route(newTLog(), records).routed))),
    );
    const podOf = (serial: string) => (serial === 'M3' ? undefined : `IT001E${serial}`);
    const batch = buildOutputBatch(routed, podOf);
    const want = routed.map(({ record }) => {
      const r = (record as { reading: CollectedReading }).reading;
      const pod = podOf(r.meterSerial);
      return pod === undefined ? r : spread(r, pod);
    });
    expect(batch.readings.length).toBe(want.length);
    for (const [i, r] of batch.readings.entries()) sameCopy(r, want[i]!);
    expect(batch.readings.filter((r) => r.meterSerial === 'M3').every((r) => !('usagePoint' in r))).toBe(
      true,
    );
    expect(batch.csv.S).toEqual(loadProfileRows(want));
    expect(batch.csv.DC).toEqual(registerRows(want, 'dailyClosure'));
    expect(batch.csv.R).toEqual(registerRows(want, 'register'));
    expect(batch.csv.S?.length).toBeGreaterThan(0);
  });
});
