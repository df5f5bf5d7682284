import { describe, expect, it } from 'vitest';
import { buildOutputBatch } from '../../actors/integration/output-batch.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { newTLog, route } from '../../actors/tlog/router.js';
import type { CollectedReading } from '../../adapters/field-data.js';

const t0 = Date.UTC(2026, 10, 23, 0, 15);

function routedOf(readings: CollectedReading[]) {
  const records: TLogRecord[] = readings.map((reading) => ({
    type: 'reading',
    concentratorId: 'C1',
    collectedAtMs: t0,
    reading,
  }));
  return route(newTLog(), records).routed;
}

describe('integration output: maximum demand registers', () => {
  it('a 1.6.0 maximum-demand register becomes an MP_ row (not an R_ row) with its POD and ReadingType (kW: multiplier k, unit W)', () => {
    const batch = buildOutputBatch(
      routedOf([
        {
          meterSerial: 'M1',
          kind: 'register',
          quantity: { source: 'obis', code: '1.6.0' },
          value: 4.2,
          unit: 'kW',
          timestampMs: t0,
        },
        {
          meterSerial: 'M1',
          kind: 'register',
          quantity: { source: 'obis', code: '1.8.0' },
          value: 1234.5,
          unit: 'kWh',
          timestampMs: t0,
        },
      ]),
      (serial) => (serial === 'M1' ? 'IT001E00000001' : undefined),
    );
    expect(batch.csv.MP).toHaveLength(1);
    const [mp] = batch.csv.MP ?? [];
    expect(mp).toMatchObject({ serialnumber: 'M1', pod: 'IT001E00000001', time: t0 });
    // Fields 16-17 of the code: multiplier 3 (kilo), unit 38 (W), so the value stays in kW.
    expect(String(mp?.cimcode).split('.').slice(15, 17)).toEqual(['3', '38']);
    expect(mp?.value).toBe(4.2);
    // The energy register is an R_ row; the demand register is not.
    expect(batch.csv.R).toHaveLength(1);
    expect(batch.csv.R?.[0]).toMatchObject({ serialnumber: 'M1' });
    // Both still go to CIM MeterReadings.
    expect(batch.readings).toHaveLength(2);
  });

  it('a batch without demand registers has no MP_ rows', () => {
    const batch = buildOutputBatch(
      routedOf([
        {
          meterSerial: 'M2',
          kind: 'register',
          quantity: { source: 'obis', code: '1.8.0' },
          value: 1,
          unit: 'kWh',
          timestampMs: t0,
        },
      ]),
      () => undefined,
    );
    expect(batch.csv.MP).toBeUndefined();
  });
});
