import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deliverySeq, splitCommands, splitCommandsSized } from '../../actors/host/delivery-parts.js';

type Listed = { type: string; records?: { meterSerial: string }[] };

/** The parts as the driver cut them before session 13: every half stringified again. */
function splitByStringifying(commands: readonly unknown[], limitBytes: number): unknown[][] {
  const pieces: { command: unknown; bytes: number }[] = [];
  const add = (command: unknown) => {
    const bytes = JSON.stringify(command).length;
    const list = (command as Listed).records;
    if (bytes <= limitBytes || !list || list.length < 2) return void pieces.push({ command, bytes });
    const middle = Math.ceil(list.length / 2);
    let cut: number | undefined;
    for (let d = 0; d < list.length && cut === undefined; d++)
      for (const i of [middle - d, middle + d])
        if (
          cut === undefined &&
          i > 0 &&
          i < list.length &&
          list[i]!.meterSerial !== list[i - 1]!.meterSerial
        )
          cut = i;
    if (cut === undefined) return void pieces.push({ command, bytes });
    add({ ...(command as Listed), records: list.slice(0, cut) });
    add({ ...(command as Listed), records: list.slice(cut) });
  };
  for (const command of commands) add(command);
  const parts: unknown[][] = [];
  let current: unknown[] = [];
  let size = 0;
  for (const { command, bytes } of pieces) {
    if (current.length > 0 && size + bytes > limitBytes) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(command);
    size += bytes;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

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

  it("cuts exactly the parts that stringifying every half cut, and counts each part's JSON bytes", () => {
    const record = fc.record({
      meterSerial: fc.constantFrom('A', 'B', 'C', 'D'),
      value: fc.double(),
      note: fc.string(),
    });
    const command = fc.oneof(
      fc.record({ type: fc.constant('route'), records: fc.array(record, { maxLength: 40 }), at: fc.nat() }),
      fc.record({ type: fc.constant('tick') }),
    );
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 6 }),
        fc.integer({ min: 50, max: 3_000 }),
        (commands, limit) => {
          const sized = splitCommandsSized(commands, limit);
          expect(sized.map((p) => p.commands)).toEqual(splitByStringifying(commands, limit));
          for (const part of sized)
            expect(part.bytes).toBe(
              part.commands.reduce((sum: number, c) => sum + JSON.stringify(c).length, 0),
            );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('numbers parts inside the entry so seqs stay increasing across entries, and refuses a 1000th part', () => {
    expect(deliverySeq(5, 0)).toBeLessThan(deliverySeq(5, 1));
    expect(deliverySeq(5, 999)).toBeLessThan(deliverySeq(6, 0));
    expect(() => deliverySeq(5, 1000)).toThrow(/more than 1000 parts/);
  });
});
