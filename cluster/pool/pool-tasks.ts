/**
 * Tasks of the pool itself, used by its tests and benchmarks to exercise the machinery
 * (cancellation, back-pressure, error codes) without depending on any adapter.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { MeterfabricError } from '../../core/errors.js';
import { transferListOf, type WithTransfer, withTransfer } from './transfer.js';

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

/**
 * `spin`, reporting where and when it ran (ms since the epoch, performance.timeOrigin-based:
 * comparable across threads): for tests of which task a worker runs when.
 */
export function spinStamped(payload: { ms: number }): {
  threadId: number;
  startedAtMs: number;
  endedAtMs: number;
} {
  const startedAtMs = performance.timeOrigin + performance.now();
  spin(payload);
  return { threadId, startedAtMs, endedAtMs: performance.timeOrigin + performance.now() };
}

export function fail(payload: { code: string }): never {
  throw new MeterfabricError(payload.code, `task failed on purpose with ${payload.code}`);
}

/** Reports where it ran: the pool tests check worker mode really leaves the main thread. */
export function threadInfo(): { isMainThread: boolean; threadId: number } {
  return { isMainThread, threadId };
}

/** Busy-waits for `ms`, then fails with `code`: for "the lowest-index failure wins" tests. */
export function spinThenFail(payload: { ms: number; code: string }): never {
  spin({ ms: payload.ms });
  return fail({ code: payload.code });
}

let kept: Uint8Array | undefined;

/**
 * Returns `size` bytes moved to the caller and keeps its own reference to them, so that
 * `keptByteLength` can show whether they left this thread (0: moved) or were copied.
 */
export function keepAndMoveBytes(payload: {
  size: number;
  move: boolean;
}): Uint8Array | WithTransfer<Uint8Array> {
  const size = Math.min(Math.max(0, Math.floor(payload.size)), 1 << 20);
  kept = new Uint8Array(size).fill(7);
  return payload.move ? withTransfer(kept, transferListOf([kept])) : kept;
}

export function keptByteLength(): number {
  return kept?.byteLength ?? -1;
}

/** Sums the bytes it was given, and reports the payload's buffer length as the task saw it. */
export function sumBytes(bytes: Uint8Array): { sum: number; byteLength: number } {
  let sum = 0;
  for (const b of bytes) sum += b;
  return { sum, byteLength: bytes.byteLength };
}
