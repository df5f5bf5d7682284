import type { CollectedReading } from '../../../adapters/field-data.js';

/**
 * `count` hourly load-profile readings spread over `meters` meters named `<tag><n>` (usage
 * points `P<n>`), the value being the reading's index: the publisher tests' batches.
 */
export function hourlyReadings(
  count: number,
  tag: string,
  meters: number,
  dayStartMs: number,
): CollectedReading[] {
  return Array.from({ length: count }, (_, i) => ({
    meterSerial: `${tag}${i % meters}`,
    usagePoint: `P${i % meters}`,
    kind: 'interval',
    quantity: { source: 'profile', quantity: 'activeImportInterval' },
    value: i,
    unit: 'Wh',
    timestampMs: dayStartMs + 3_600_000 * (i % 24),
    intervalSeconds: 3600,
  }));
}
