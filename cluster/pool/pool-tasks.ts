/**
 * Tasks of the pool itself, used by its tests and benchmarks to exercise the machinery
 * (cancellation, back-pressure, error codes) without depending on any adapter.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { MeterfabricError } from '../../core/errors.js';

/** Sums each number array; a batch function: one array of inputs, one array of outputs. */
export function sumBatches(batches: number[][]): number[] {
  return batches.map((xs) => xs.reduce((a, b) => a + b, 0));
}

export function doubleAll(xs: number[]): number[] {
  return xs.map((x) => x * 2);
}

/** Busy-waits for `ms` (CPU work, not a timer), then returns `ms`: for saturation tests. */
export function spin(payload: { ms: number }): number {
  const until = Date.now() + Math.min(payload.ms, 10_000);
  let n = 0;
  while (Date.now() < until) n++;
  return n >= 0 ? payload.ms : -1;
}

export function fail(payload: { code: string }): never {
  throw new MeterfabricError(payload.code, `task failed on purpose with ${payload.code}`);
}

/** Reports where it ran: the pool tests check worker mode really leaves the main thread. */
export function threadInfo(): { isMainThread: boolean; threadId: number } {
  return { isMainThread, threadId };
}
