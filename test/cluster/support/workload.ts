import type { ActorProxy } from '../../../cluster/actors/actor-proxy.js';
import type { PartitionConfiguration } from '../../../cluster/replicator/contract.js';
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

/** The first `count` counter keys `<prefix>-<i>` whose partition has `node` as primary in `configs`. */
export function keysWithPrimary(
  proxy: ActorProxy,
  configs: ReadonlyMap<string, PartitionConfiguration>,
  node: string,
  prefix: string,
  count = 1,
): string[] {
  if (![...configs.values()].some((c) => c.primary === node))
    throw new Error(`node ${node} is primary of no partition; no key can be found on it`);
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}-${i}`;
    if (configs.get(proxy.partitionOf('counter', key))?.primary === node) keys.push(key);
  }
  return keys;
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
