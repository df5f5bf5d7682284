import fc from 'fast-check';
import {
  knownQuantities,
  readingKinds,
  readingTypeFor,
  unitOfCode,
} from '../../../adapters/cim/reading-type-map.js';
import type { CollectedReading } from '../../../adapters/field-data.js';

/**
 * Random collected readings for the CIM property tests: any known quantity and kind, a 15- or
 * 60-minute interval, the unit of its ReadingType code (from reading-type-map.ts, not a table
 * of our own). Each test gives the parts it wants to stress (names, values, instants).
 */
export function collectedReadings(parts: {
  meterSerial: fc.Arbitrary<string>;
  usagePoint: fc.Arbitrary<string | undefined>;
  value: fc.Arbitrary<number>;
  timestampMs: fc.Arbitrary<number>;
  qualities: fc.Arbitrary<string[] | undefined>;
  /**
   * Prefixes put before a Wh or W code's unit ('k': kWh under a Wh code), which makes the
   * encoder scale the value. Without: always the code's own unit.
   */
  unitPrefixes?: string[];
}): fc.Arbitrary<CollectedReading> {
  return fc
    .record({
      meterSerial: parts.meterSerial,
      usagePoint: parts.usagePoint,
      quantity: fc.constantFrom(...knownQuantities()),
      kind: fc.constantFrom(...readingKinds),
      value: parts.value,
      timestampMs: parts.timestampMs,
      intervalSeconds: fc.constantFrom(900, 3600),
      unitPrefix: fc.constantFrom(...(parts.unitPrefixes ?? [''])),
      qualities: parts.qualities,
    })
    .map((r) => {
      const code = readingTypeFor(r.quantity, r.kind, 'standard', { intervalSeconds: r.intervalSeconds });
      const base = unitOfCode(code);
      const unit = base === 'Wh' || base === 'W' ? `${r.unitPrefix}${base}` : base;
      // A fresh quantity object per reading, as decoded records have: nothing may rely on identity.
      const out: CollectedReading = {
        meterSerial: r.meterSerial,
        kind: r.kind,
        quantity: { ...r.quantity },
        value: r.value,
        unit,
        timestampMs: r.timestampMs,
      };
      if (r.usagePoint !== undefined) out.usagePoint = r.usagePoint;
      if (r.kind === 'interval') out.intervalSeconds = r.intervalSeconds;
      if (r.qualities) out.qualities = r.qualities;
      return out;
    });
}

/** A reading of an OBIS code no ReadingType is mapped for: every encoder must refuse it by code. */
export function unknownQuantityReading(): CollectedReading {
  return {
    meterSerial: 'M1',
    kind: 'register',
    quantity: { source: 'obis', code: '99.99.99' },
    value: 1,
    unit: 'kWh',
    timestampMs: 0,
  };
}
