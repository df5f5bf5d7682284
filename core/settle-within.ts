import { maxTimerMs } from './command-line.js';

/**
 * How a promise ended within a bound: as `Promise.allSettled` reports it, or not at all
 * (`timed-out`: it may still settle later; nothing cancels it).
 */
export type SettledWithin<T> =
  | { status: 'fulfilled'; value: T }
  | { status: 'rejected'; reason: unknown }
  | { status: 'timed-out' };

/**
 * Waits for `work` at most `timeoutMs`. For calls whose answer is a courtesy and that can wait
 * forever on a peer that accepts connections but never answers (a frozen etcd, a network black
 * hole): the caller goes on either way and says which. Never rejects. The timer is cleared as
 * soon as `work` settles, so a bound does not keep the process alive after the work is done.
 */
export async function settleWithin<T>(work: Promise<T>, timeoutMs: number): Promise<SettledWithin<T>> {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > maxTimerMs)
    throw new RangeError(
      `settleWithin: timeoutMs must be an integer within 0..${maxTimerMs}, got ${timeoutMs}`,
    );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<SettledWithin<T>>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'timed-out' }), timeoutMs);
  });
  try {
    return await Promise.race([
      work.then(
        (value): SettledWithin<T> => ({ status: 'fulfilled', value }),
        (reason: unknown): SettledWithin<T> => ({ status: 'rejected', reason }),
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
