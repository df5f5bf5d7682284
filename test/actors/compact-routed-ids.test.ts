import { describe, expect, it } from 'vitest';
import { packValue, unpackValue } from '../../actors/hosting/compact-records.js';
import { idPrefixOf } from '../../actors/hosting/compact-unpack.js';
import { recordId, type TLogRecord } from '../../actors/tlog/records.js';
import { classify, newTLog, type RoutedRecord, route } from '../../actors/tlog/router.js';
import type { CollectedReading, InternalQuantity } from '../../adapters/field-data.js';

/**
 * Unpacking derives routed readings' ids and streams once per run of one meter, kind and
 * quantity instead of building each id in full (issue 7). These pin that unpacked ids and
 * streams are exactly recordId's and classify's, and that the packer never drops an id or a
 * stream that is not the router's (a neighbour's id, a prefix match, another stream).
 */
const t0 = Date.UTC(2026, 2, 11);
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const roundTrip = <T>(x: T): T => unpackValue<T>(wire(packValue(x)));

function profile(meter: string, quantity: InternalQuantity, n: number, from = 0): TLogRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'reading' as const,
    concentratorId: 'C1',
    collectedAtMs: t0,
    reading: {
      meterSerial: meter,
      usagePoint: `POD-${meter}`,
      kind: 'interval' as const,
      quantity,
      value: i * 10 + 0.5,
      unit: 'Wh',
      timestampMs: t0 + (from + i) * 900_000,
      intervalSeconds: 900,
    } satisfies CollectedReading,
  }));
}

const imp: InternalQuantity = { source: 'profile', quantity: 'activeImportInterval' };
const exp: InternalQuantity = { source: 'profile', quantity: 'activeExportInterval' };

describe('routed reading ids derived per run', () => {
  it('unpacked ids and streams are recordId and classify of each record, across meters and quantities', () => {
    const records = [
      ...profile('M1', imp, 8),
      ...profile('M1', { ...imp }, 4, 8), // the same quantity, another object
      ...profile('M1', exp, 5),
      ...profile('M2', imp, 6),
    ];
    const { routed } = route(newTLog(), records);
    expect(routed).toHaveLength(records.length);
    const back = roundTrip({ routed });
    expect(back).toStrictEqual({ routed });
    for (const r of back.routed) {
      expect(r.id).toBe(recordId(r.record));
      expect({ stream: r.stream, typed: r.typed }).toEqual(classify(r.record));
    }
    // Derived ids are not carried: the packed list holds no id at all.
    expect(JSON.stringify(packValue({ routed }))).not.toContain('r|M1');
  });

  it('an id or stream the router would not give, inside a run, is kept as it is', () => {
    const { routed } = route(newTLog(), profile('M1', imp, 10));
    const odd: RoutedRecord[] = routed.map((r, i) => {
      if (i === 3) return { ...r, id: routed[4]!.id }; // a neighbour's id: same prefix, other instant
      if (i === 5) return { ...r, id: `${r.id}0` }; // the right prefix, one digit more
      if (i === 6) return { ...r, typed: 'readings' }; // the right id, another typed stream
      if (i === 7) return { ...r, id: r.id.replace('M1', 'M9') }; // another meter's prefix
      return r;
    });
    const packed = JSON.stringify(packValue({ odd }));
    expect(packed).toContain(JSON.stringify(routed[4]!.id));
    expect(packed).toContain(JSON.stringify(`${routed[5]!.id}0`));
    expect(roundTrip({ odd })).toStrictEqual({ odd });
  });

  it('a quantity changed between two packs is not judged by the first pack', () => {
    const q: InternalQuantity = { source: 'obis', code: '1.8.0' };
    const { routed } = route(newTLog(), [
      ...profile('M1', q, 3).map((r) => ({
        ...r,
        reading: { ...(r as { reading: CollectedReading }).reading, kind: 'register' as const },
      })),
    ] as TLogRecord[]);
    expect(roundTrip({ routed })).toStrictEqual({ routed });
    // The same objects, the quantity changed afterwards: the old ids no longer derive.
    (q as { code: string }).code = '1.8.1';
    const stale = JSON.parse(JSON.stringify(routed)) as RoutedRecord[];
    for (const r of routed) (r.record as { reading: CollectedReading }).reading.quantity = q;
    const mixed = routed.map((r, i) => ({ ...r, id: stale[i]!.id }));
    expect(roundTrip({ mixed })).toStrictEqual(wire({ mixed }));
    expect(JSON.stringify(packValue({ mixed }))).toContain('obis:1.8.0');
  });

  it('idPrefixOf takes the instant off the end of an id, and only it', () => {
    expect(idPrefixOf('r|M1|interval|profile:x|1700000000000', 1_700_000_000_000)).toBe(
      'r|M1|interval|profile:x|',
    );
    expect(idPrefixOf('r|M1|x|2.5', 2.5)).toBe('r|M1|x|');
    expect(idPrefixOf('r|M1|x|15', 5)).toBe('r|M1|x|1');
    expect(idPrefixOf('e|D|k|raised|15|', 15)).toBeUndefined();
  });
});
