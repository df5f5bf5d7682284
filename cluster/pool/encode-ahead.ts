import { MeterfabricError } from '../../core/errors.js';

/**
 * Keeps the pool busy while a caller writes: `encode(i + 1 .. i + ahead)` are already running
 * in the pool while `consume(i)` (a file write, an fsync, a publish) runs on the caller's
 * side. A caller that awaits each batch's encoding before writing it, and each write before
 * encoding the next, leaves the workers idle during every write and pays each batch's
 * hand-off (packing the first task, the last result's return) with the workers idle
 * (bench/cim-csv.bench.ts shows both ways).
 *
 * Results are consumed strictly in index order, one at a time. After a failure (of an encode
 * or a consume) nothing further is started or consumed; the call waits until every encode it
 * started has settled (so no rejection is left unhandled and no work outlives the call) and
 * throws the first failure in index order.
 */
export type EncodeAheadOptions = {
  /** Batches encoded ahead of the one being consumed; default 1, at most maxEncodeAhead. */
  ahead?: number;
};

/** Upper bound of batches encoded ahead: each holds its input and output in memory. */
export const maxEncodeAhead = 16;

export async function encodeAhead<T, R>(
  items: readonly T[],
  encode: (item: T, index: number) => Promise<R>,
  consume: (result: R, index: number) => Promise<void> | void,
  options: EncodeAheadOptions = {},
): Promise<void> {
  const ahead = options.ahead ?? 1;
  if (!Number.isSafeInteger(ahead) || ahead < 0 || ahead > maxEncodeAhead)
    throw new MeterfabricError(
      'MF_POOL_AHEAD_INVALID',
      `encodeAhead: ahead must be an integer from 0 to ${maxEncodeAhead}, got ${ahead}`,
      { ahead },
    );
  const started: Promise<R>[] = [];
  const start = (i: number): void => {
    if (i < items.length && started.length === i) {
      const p = encode(items[i]!, i);
      // Settled later in order; until then a rejection must not count as unhandled.
      p.catch(() => undefined);
      started.push(p);
    }
  };
  try {
    for (let i = 0; i < items.length; i++) {
      for (let k = i; k <= i + ahead; k++) start(k);
      await consume(await started[i]!, i);
    }
  } catch (err) {
    await Promise.allSettled(started);
    throw err;
  }
}
