import type { CollectedReading } from '../../adapters/field-data.js';

/**
 * Collected readings for tests, written once (test/actors' device tests shared copies of this):
 * an hourly active-import load profile interval of `value` Wh at `timestampMs`.
 */
export function intervalReading(meterSerial: string, timestampMs: number, value: number): CollectedReading {
  return {
    meterSerial,
    kind: 'interval',
    quantity: { source: 'profile', quantity: 'activeImportInterval' },
    value,
    unit: 'Wh',
    timestampMs,
    intervalSeconds: 3600,
  };
}
