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

/**
 * Building replicas that have caught up: following the current epoch and holding everything
 * the primary had committed when polled (a copy-built replica also reports active-secondary).
 */
export function builtReplicas(
  config: PartitionConfiguration,
  statuses: ReadonlyMap<NodeId, ReadonlyMap<PartitionId, ReplicaStatus>>,
): Set<NodeId> {
  const built = new Set<NodeId>();
  if (config.status !== 'ok' || !config.primary) return built;
  const primary = statuses.get(config.primary)?.get(config.partition);
  if (primary?.role !== 'primary' || primary.epoch !== config.epoch) return built;
  for (const node of config.building) {
    const s = statuses.get(node)?.get(config.partition);
    if (!s || s.role === 'none' || s.role === 'primary' || s.epoch !== config.epoch) continue;
    if (s.role === 'active-secondary' || s.lastPersistedLsn >= primary.committedLsn) built.add(node);
  }
  return built;
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
