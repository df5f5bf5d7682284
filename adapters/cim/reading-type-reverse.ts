import type { InternalQuantity, ReadingKind } from '../field-data.js';
import type { ReadingTypeCode } from './reading-type.js';
import { batteryQuantities, readingTypeFor, repairSeedReadingType } from './reading-type-map.js';
import { measuringPeriodSeconds } from './reading-type-names.js';

/**
 * Reverse lookup of the mapping table: a code received in a CIM message -> what it measures.
 * Built once by enumerating every quantity the table knows, in both profiles.
 */
export type QuantityMatch = { quantity: InternalQuantity; kind: ReadingKind; intervalSeconds?: number };

let reverseIndex: Map<string, QuantityMatch> | undefined;

/** Every quantity the table knows, for the reverse lookup and for property tests. */
export function knownQuantities(): InternalQuantity[] {
  const list: InternalQuantity[] = [];
  for (let t = 0; t <= 9; t++)
    for (const c of [1, 2, 3, 4, 15]) list.push({ source: 'obis', code: `${c}.8.${t}` });
  for (const c of [1, 2, 13, 14, 31, 32, 51, 52, 71, 72, 91]) list.push({ source: 'obis', code: `${c}.7.0` });
  for (let t = 0; t <= 9; t++) for (const c of [1, 2]) list.push({ source: 'obis', code: `${c}.6.${t}` });
  const dpts = ['13.010', '13.013', '13.011', '13.014', '13.012', '13.015', '14.056', '9.024'];
  for (const dpt of dpts)
    for (const quantity of ['import', 'export']) list.push({ source: 'knx', dpt, quantity });
  for (const dpt of ['14.027', '9.020', '14.019', '9.021'])
    for (const quantity of [undefined, 'L1', 'L2', 'L3'])
      list.push(quantity ? { source: 'knx', dpt, quantity } : { source: 'knx', dpt });
  for (const dpt of ['14.033', '14.057', '9.001']) list.push({ source: 'knx', dpt });
  for (const quantity of batteryQuantities) list.push({ source: 'battery', quantity });
  list.push(
    { source: 'profile', quantity: 'activeImportInterval' },
    { source: 'profile', quantity: 'activeExportInterval' },
  );
  return list;
}

export const readingKinds: readonly ReadingKind[] = ['register', 'dailyClosure', 'interval', 'instantaneous'];
export const intervalChoicesSeconds: readonly number[] = [...measuringPeriodSeconds.values()];

/**
 * Reverse lookup (a code received in a CIM message -> what it measures), over both profiles.
 * Several quantities can share a code (OBIS 1.8.0 and KNX 13.013 are both kWh import
 * registers); the first in table order wins, which is the OBIS one.
 */
export function quantityForReadingType(code: ReadingTypeCode): QuantityMatch | undefined {
  if (!reverseIndex) {
    const index = new Map<string, QuantityMatch>();
    for (const profile of ['seed-compat', 'standard'] as const)
      for (const quantity of knownQuantities())
        for (const kind of readingKinds) {
          const intervals = kind === 'interval' ? intervalChoicesSeconds : [undefined];
          for (const intervalSeconds of intervals) {
            const c = readingTypeFor(quantity, kind, profile, intervalSeconds ? { intervalSeconds } : {});
            if (!index.has(c))
              index.set(c, intervalSeconds ? { quantity, kind, intervalSeconds } : { quantity, kind });
          }
        }
    reverseIndex = index;
  }
  return reverseIndex.get(repairSeedReadingType(code));
}
