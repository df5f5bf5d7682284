import { invariant } from '../../core/errors.js';
import type { NodeId, PartitionConfiguration, PartitionId } from '../replicator/contract.js';

/**
 * Pure placement decisions of the failover manager: where a new partition's replicas go,
 * which replicas a partition keeps, drops and adds when nodes leave, join or drain. No I/O;
 * count-based load, ties broken by node id so every FM computes the same answer.
 */
export type Load = { replicas: number; primaries: number; servicePrimaries: number };

export type ClusterView = {
  /** Nodes holding a live membership lease, not draining. */
  eligible: readonly NodeId[];
  /** Current configurations of every partition. */
  configs: ReadonlyMap<PartitionId, PartitionConfiguration>;
};

function serviceOf(partition: PartitionId): string {
  return partition.slice(0, partition.indexOf('/'));
}

/** Replica and primary counts per node, over all partitions (and primaries of one service). */
export function loads(view: ClusterView, service: string): Map<NodeId, Load> {
  const result = new Map<NodeId, Load>();
  for (const node of view.eligible) result.set(node, { replicas: 0, primaries: 0, servicePrimaries: 0 });
  for (const config of view.configs.values()) {
    for (const node of config.replicas) {
      const load = result.get(node);
      if (load) load.replicas++;
    }
    if (config.primary) {
      const load = result.get(config.primary);
      if (load) {
        load.primaries++;
        if (serviceOf(config.partition) === service) load.servicePrimaries++;
      }
    }
  }
  return result;
}

function byReplicaLoad(load: Map<NodeId, Load>) {
  return (a: NodeId, b: NodeId): number =>
    load.get(a)!.replicas - load.get(b)!.replicas || (a < b ? -1 : a > b ? 1 : 0);
}

function byPrimaryLoad(load: Map<NodeId, Load>) {
  return (a: NodeId, b: NodeId): number =>
    load.get(a)!.servicePrimaries - load.get(b)!.servicePrimaries ||
    load.get(a)!.primaries - load.get(b)!.primaries ||
    load.get(a)!.replicas - load.get(b)!.replicas ||
    (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The first configuration of a partition: `target` replicas (fewer if fewer nodes) on the
 * least-loaded distinct nodes; the primary on the replica node with fewest primaries of the
 * same service, so primaries spread evenly (at most ceil(P/N)+1 per node).
 */
export function initialConfiguration(
  partition: PartitionId,
  view: ClusterView,
  targetReplicas: number,
): PartitionConfiguration | null {
  if (view.eligible.length === 0) return null;
  const load = loads(view, serviceOf(partition));
  const replicas = [...view.eligible].sort(byReplicaLoad(load)).slice(0, targetReplicas);
  const primary = [...replicas].sort(byPrimaryLoad(load))[0]!;
  const config: PartitionConfiguration = {
    partition,
    epoch: 1,
    primary,
    replicas: [primary, ...replicas.filter((n) => n !== primary)],
    building: [],
    status: 'ok',
    previousEpochLastLsn: 0,
  };
  assertWellFormed(config);
  return config;
}

export type ReplicaSetPlan = {
  /** Replicas of the next configuration (survivors first, then replacements). */
  replicas: NodeId[];
  /** Of those, the ones that must be built (new, or still building). */
  building: NodeId[];
  /** True when the set differs from the current one (a reconfiguration is needed). */
  changed: boolean;
};

/**
 * The replica set a partition should have now: keep replicas on eligible nodes, drop the
 * others, add least-loaded eligible nodes up to `target`. `builtNodes` are building replicas
 * that reported themselves caught up: they become active.
 */
export function planReplicaSet(
  config: PartitionConfiguration,
  view: ClusterView,
  targetReplicas: number,
  builtNodes: ReadonlySet<NodeId> = new Set(),
): ReplicaSetPlan {
  const eligible = new Set(view.eligible);
  const kept = config.replicas.filter((n) => eligible.has(n));
  const load = loads(view, serviceOf(config.partition));
  const candidates = view.eligible.filter((n) => !kept.includes(n)).sort(byReplicaLoad(load));
  const added = candidates.slice(0, Math.max(0, targetReplicas - kept.length));
  const replicas = [...kept, ...added];
  const building = replicas.filter(
    (n) => added.includes(n) || (config.building.includes(n) && !builtNodes.has(n)),
  );
  const changed =
    replicas.length !== config.replicas.length ||
    replicas.some((n) => !config.replicas.includes(n)) ||
    building.length !== config.building.length ||
    building.some((n) => !config.building.includes(n));
  return { replicas, building, changed };
}

/** Invariants every configuration written to etcd must satisfy. */
export function assertWellFormed(config: PartitionConfiguration): void {
  invariant(
    new Set(config.replicas).size === config.replicas.length,
    'two replicas of a partition on one node',
    {
      partition: config.partition,
      replicas: config.replicas,
    },
  );
  invariant(
    config.building.every((n) => config.replicas.includes(n)),
    'a building replica is not in the replica set',
    { partition: config.partition },
  );
  invariant(
    config.primary === null ||
      (config.replicas.includes(config.primary) && !config.building.includes(config.primary)),
    'the primary must be an active replica',
    { partition: config.partition, primary: config.primary },
  );
  invariant(config.epoch >= 1, 'epochs start at 1', { partition: config.partition });
}

export type PrimaryMove = { partition: PartitionId; from: NodeId; to: NodeId };

/**
 * Primary moves that even out one service's primaries after a node joined (Service Fabric
 * moves partitions only when a node joins, leaves or drains): while the busiest eligible node
 * has at least two more primaries than the idlest, move one of its partitions whose active
 * replica set includes the idlest node. At most `maxMoves` per call, so the cluster changes
 * gradually and every move is a normal fenced reconfiguration.
 */
export function planPrimaryMoves(service: string, view: ClusterView, maxMoves: number): PrimaryMove[] {
  const counts = new Map<NodeId, number>(view.eligible.map((n) => [n, 0]));
  const mine = [...view.configs.values()].filter((c) => serviceOf(c.partition) === service);
  if (mine.some((c) => c.status !== 'ok' || c.building.length > 0)) return [];
  for (const c of mine)
    if (c.primary && counts.has(c.primary)) counts.set(c.primary, counts.get(c.primary)! + 1);
  const moves: PrimaryMove[] = [];
  const moved = new Set<PartitionId>();
  while (moves.length < maxMoves && counts.size > 1) {
    const sorted = [...counts].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
    const [idle, low] = sorted[0]!;
    const [busy, high] = sorted[sorted.length - 1]!;
    if (high - low < 2) break;
    const candidate = mine.find(
      (c) => c.primary === busy && !moved.has(c.partition) && c.replicas.includes(idle),
    );
    if (!candidate) break;
    moves.push({ partition: candidate.partition, from: busy, to: idle });
    moved.add(candidate.partition);
    counts.set(busy, high - 1);
    counts.set(idle, low + 1);
  }
  return moves;
}
