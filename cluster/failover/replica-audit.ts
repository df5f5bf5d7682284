import type { NodeRecord } from '../membership/membership.js';
import type { NodeId, PartitionConfiguration, PartitionId, ReplicaStatus } from '../replicator/contract.js';

/**
 * Pure audit: which live replicas of an `ok` configuration do not act it out (a node that
 * restarted within its lease TTL holds no role; a role change that never happened). The FM
 * reconfigures such partitions after a grace period, which fences and re-assigns every role.
 */
export function findMismatches(
  config: PartitionConfiguration,
  statuses: ReadonlyMap<NodeId, ReadonlyMap<PartitionId, ReplicaStatus>>,
  members: ReadonlyMap<NodeId, NodeRecord>,
): NodeId[] {
  if (config.status !== 'ok') return [];
  const result: NodeId[] = [];
  for (const node of config.replicas) {
    if (!members.has(node)) continue; // the lease decides
    const hosted = statuses.get(node);
    if (!hosted) continue; // unreachable right now
    const status = hosted.get(config.partition);
    if (!status || status.role === 'none' || status.epoch < config.epoch) {
      result.push(node);
      continue;
    }
    if (node === config.primary ? status.role !== 'primary' : status.role === 'primary') result.push(node);
  }
  return result;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
