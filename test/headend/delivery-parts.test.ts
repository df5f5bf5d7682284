import { describe, expect, it } from 'vitest';
import { deliverySeq, splitCommands } from '../../actors/host/delivery-parts.js';

describe('delivery parts (actors/host/delivery-parts.ts)', () => {
  it('splits a record list that is too big into ordered commands, and packs small commands together', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({
      id: `r${i}`,
      meterSerial: `M${i}`,
      pad: 'x'.repeat(90),
    }));
    const parts = splitCommands([{ type: 'route', records }, { type: 'tick' }], 2_000);
    for (const part of parts) expect(JSON.stringify(part).length).toBeLessThanOrEqual(2_000 + 100);
    const flattened = parts.flat() as { type: string; records?: { id: string }[] }[];
    expect(flattened.flatMap((c) => c.records ?? []).map((r) => r.id)).toEqual(records.map((r) => r.id));
    expect(flattened.at(-1)).toEqual({ type: 'tick' });
    expect(splitCommands([{ type: 'a' }, { type: 'b' }], 2_000)).toEqual([[{ type: 'a' }, { type: 'b' }]]);
  });

  it("never splits one meter's records (a daily closure's registers make one DC row only together)", () => {
    const records = ['A', 'B', 'C'].flatMap((meterSerial) =>
      Array.from({ length: 7 }, (_, t) => ({
        type: 'reading',
        reading: { meterSerial, code: `1.8.${t}`, pad: 'x'.repeat(200) },
      })),
    );
    const parts = splitCommands([{ type: 'route', records }], 1_000);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts)
      for (const c of part as { records: { reading: { meterSerial: string } }[] }[])
        expect(c.records.length).toBe(7 * new Set(c.records.map((r) => r.reading.meterSerial)).size);
    // One meter alone is never split, even over the limit.
    const one = records.filter((r) => r.reading.meterSerial === 'A');
    expect(splitCommands([{ type: 'route', records: one }], 500)).toEqual([
      [{ type: 'route', records: one }],
    ]);
  });

  it('numbers parts inside the entry so seqs stay increasing across entries, and refuses a 1000th part', () => {
    expect(deliverySeq(5, 0)).toBeLessThan(deliverySeq(5, 1));
    expect(deliverySeq(5, 999)).toBeLessThan(deliverySeq(6, 0));
    expect(() => deliverySeq(5, 1000)).toThrow(/more than 1000 parts/);
  });
});
