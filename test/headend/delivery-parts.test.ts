import { describe, expect, it } from 'vitest';
import { deliverySeq, splitCommands } from '../../actors/host/delivery-parts.js';

describe('delivery parts (actors/host/delivery-parts.ts)', () => {
  it('splits a record list that is too big into ordered commands, and packs small commands together', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ id: `r${i}`, pad: 'x'.repeat(90) }));
    const parts = splitCommands([{ type: 'route', records }, { type: 'tick' }], 2_000);
    for (const part of parts) expect(JSON.stringify(part).length).toBeLessThanOrEqual(2_000 + 100);
    const flattened = parts.flat() as { type: string; records?: { id: string }[] }[];
    expect(flattened.flatMap((c) => c.records ?? []).map((r) => r.id)).toEqual(records.map((r) => r.id));
    expect(flattened.at(-1)).toEqual({ type: 'tick' });
    expect(splitCommands([{ type: 'a' }, { type: 'b' }], 2_000)).toEqual([[{ type: 'a' }, { type: 'b' }]]);
  });

  it('numbers parts inside the entry so seqs stay increasing across entries, and refuses a 1000th part', () => {
    expect(deliverySeq(5, 0)).toBeLessThan(deliverySeq(5, 1));
    expect(deliverySeq(5, 999)).toBeLessThan(deliverySeq(6, 0));
    expect(() => deliverySeq(5, 1000)).toThrow(/more than 1000 parts/);
  });
});
