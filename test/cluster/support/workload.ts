import type { ActorProxy } from '../../../cluster/actors/actor-proxy.js';
import { isMeterfabricError } from '../../../core/errors.js';

/** `perPartition` counter keys for every one of the counter service's partitions. */
export function keysPerPartition(proxy: ActorProxy, perPartition: number, prefix: string): string[] {
  const byPartition = new Map<string, string[]>();
  for (
    let i = 0;
    byPartition.size < 32 || [...byPartition.values()].some((k) => k.length < perPartition);
    i++
  ) {
    const key = `${prefix}-${i}`;
    const p = proxy.partitionOf('counter', key);
    const list = byPartition.get(p) ?? [];
    if (list.length < perPartition) list.push(key);
    byPartition.set(p, list);
  }
  return [...byPartition.values()].flat();
}

export type IncrementHistory = {
  acked: Map<string, number>;
  /** Calls whose outcome is unknown (failed or timed out): may have applied at most once. */
  unknown: Array<{ key: string; idem: string; code: string }>;
  okCount: number;
  /** Every acknowledged call, in acknowledgement order. */
  ackedCalls: Array<{ key: string; idem: string }>;
};

/**
 * Runs `total` increments (by 1, unique idempotency keys) over `keys` with `concurrency`
 * callers; `onProgress` sees the acknowledged count after each success.
 */
export async function runIncrements(
  proxy: ActorProxy,
  keys: readonly string[],
  total: number,
  concurrency: number,
  idemPrefix: string,
  onProgress: (acked: number) => void = () => undefined,
  deadlineMs = 30_000,
): Promise<IncrementHistory> {
  const history: IncrementHistory = { acked: new Map(), unknown: [], okCount: 0, ackedCalls: [] };
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const n = next++;
        const key = keys[n % keys.length]!;
        const idem = `${idemPrefix}-${n}`;
        try {
          await proxy.call('counter', key, 'increment', { by: 1 }, { idempotencyKey: idem, deadlineMs });
          history.acked.set(key, (history.acked.get(key) ?? 0) + 1);
          history.okCount++;
          history.ackedCalls.push({ key, idem });
          onProgress(history.okCount);
        } catch (err) {
          history.unknown.push({ key, idem, code: isMeterfabricError(err) ? err.code : String(err) });
        }
      }
    }),
  );
  return history;
}
