import { afterAll, describe, expect, it } from 'vitest';
import { encodeMeterReadingsInPool } from '../../adapters/cim/columnar-pool.js';
import { encodeMeterReadings } from '../../adapters/cim/meter-readings.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { encodeAhead, maxEncodeAhead } from '../../cluster/pool/encode-ahead.js';
import { WorkerPool } from '../../cluster/pool/pool.js';

/** A promise resolved from outside, to hold an encode or a consume open. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void; fail: (err: Error) => void } {
  let open!: (value: T) => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('encodeAhead: the next batch encodes while the current one is consumed', () => {
  it('starts encoding batch i+1 before batch i is consumed, and consumes in order', async () => {
    const events: string[] = [];
    const writes = [gate(), gate(), gate()];
    const done = encodeAhead(
      ['a', 'b', 'c'],
      async (item, i) => {
        events.push(`encode ${i}`);
        return item.toUpperCase();
      },
      async (result, i) => {
        events.push(`consume ${i} ${result}`);
        await writes[i]!.promise;
      },
    );
    await tick();
    // Batch 1 is encoding while batch 0's write is still open; batch 2 waits (ahead = 1).
    expect(events).toEqual(['encode 0', 'encode 1', 'consume 0 A']);
    writes[0]!.open();
    await tick();
    expect(events).toEqual(['encode 0', 'encode 1', 'consume 0 A', 'encode 2', 'consume 1 B']);
    writes[1]!.open();
    writes[2]!.open();
    await done;
    expect(events.at(-1)).toBe('consume 2 C');
  });

  it('keeps at most `ahead` batches encoding beyond the one consumed', async () => {
    let running = 0;
    let most = 0;
    await encodeAhead(
      Array.from({ length: 20 }, (_, i) => i),
      async (i) => {
        running++;
        most = Math.max(most, running);
        await tick();
        running--;
        return i;
      },
      async () => {
        await tick();
      },
      { ahead: 3 },
    );
    expect(most).toBeLessThanOrEqual(4);
    expect(most).toBeGreaterThan(1);
  });

  it('after a failed encode consumes nothing further, waits for started encodes, and throws that error', async () => {
    const consumed: number[] = [];
    const slow = gate<number>();
    let settled = false;
    const done = encodeAhead(
      [0, 1, 2, 3],
      (i) => {
        if (i === 1) return Promise.reject(new Error('batch 1 is bad'));
        if (i === 2)
          return slow.promise.then((v) => {
            settled = true;
            return v;
          });
        return Promise.resolve(i);
      },
      (r) => {
        consumed.push(r);
      },
      { ahead: 2 },
    );
    await tick();
    expect(settled).toBe(false);
    slow.open(2);
    await expect(done).rejects.toThrow('batch 1 is bad');
    expect(settled).toBe(true);
    expect(consumed).toEqual([0]);
  });

  it('a failed consume stops the stream with its error', async () => {
    const encoded: number[] = [];
    await expect(
      encodeAhead(
        [0, 1, 2, 3],
        async (i) => {
          encoded.push(i);
          return i;
        },
        (r) => {
          if (r === 1) throw new Error('disk full');
        },
      ),
    ).rejects.toThrow('disk full');
    expect(encoded).toEqual([0, 1, 2]);
  });

  it('refuses an ahead outside 0..maxEncodeAhead with MF_POOL_AHEAD_INVALID', async () => {
    for (const ahead of [-1, 1.5, maxEncodeAhead + 1])
      await expect(
        encodeAhead(
          [1],
          async (i) => i,
          () => undefined,
          { ahead },
        ),
      ).rejects.toMatchObject({ code: 'MF_POOL_AHEAD_INVALID' });
  });

  describe('with the CIM encoder in the pool', () => {
    const pool = new WorkerPool({ mode: 'inline', threads: 2 });
    afterAll(() => pool.close());

    it('gives each batch the bytes the main thread writes, in order', async () => {
      const batch = (k: number): CollectedReading[] =>
        Array.from({ length: 600 }, (_, i) => ({
          meterSerial: `M${k}-${i % 25}`,
          usagePoint: `P${i % 25}`,
          kind: 'interval' as const,
          quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
          value: (i * 13 + k) % 1000,
          unit: 'Wh',
          timestampMs: Date.UTC(2026, 0, 1, i % 24),
          intervalSeconds: 3600,
        }));
      const batches = [0, 1, 2, 3].map(batch);
      const at = Date.UTC(2026, 0, 2);
      const written: string[] = [];
      const decoder = new TextDecoder();
      await encodeAhead(
        batches,
        (readings, k) =>
          encodeMeterReadingsInPool(pool, [{ readings, options: { messageId: `m${k}`, timestampMs: at } }]),
        ([bytes]) => {
          written.push(decoder.decode(bytes));
        },
      );
      expect(written).toEqual(
        batches.map((readings, k) =>
          encodeMeterReadings(readings, { messageId: `m${k}`, clock: { now: () => at } }),
        ),
      );
    });
  });
});
