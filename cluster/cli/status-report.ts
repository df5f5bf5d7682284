import { advertisedFormat, clusterWriteFormat } from '../format/persisted-format.js';
import type { NodeRecord } from '../membership/membership.js';
import { partitionHealth, worst } from '../node/health.js';
import type { NodeId, PartitionConfiguration, ReplicaStatus } from '../replicator/contract.js';

export type HealthState = 'OK' | 'WARNING' | 'ERROR';

export type StatusReport = {
  cluster: string;
  health: HealthState;
  failoverManager: NodeId | null;
  /** The persisted format the cluster writes: the lowest `readsFormat` of the live nodes. */
  writeFormat: number;
  nodes: Array<{
    id: NodeId;
    address: string;
    draining: boolean;
    /** The highest persisted format the node reads (1 for registrations without it). */
    readsFormat: number;
    reachable: boolean;
    replicas: number;
    primaries: number;
  }>;
  partitions: Array<{
    partition: string;
    epoch: number;
    status: PartitionConfiguration['status'];
    primary: NodeId | null;
    replicas: NodeId[];
    building: NodeId[];
    health: HealthState;
    reason: string;
    /** Per replica as its node reports it; `epoch`: the epoch the replica is fenced to. */
    progress: Record<
      NodeId,
      { role: string; epoch: number; lastPersistedLsn: number; committedLsn: number; appliedLsn: number }
    >;
  }>;
};

/** Pure: what `meterfabric status` shows, from etcd's records and each node's replica statuses. */
export function buildStatusReport(input: {
  cluster: string;
  failoverManager: NodeId | null;
  nodes: readonly NodeRecord[];
  configs: readonly PartitionConfiguration[];
  /** Replica statuses per reachable node (absent: unreachable). */
  replicaStatuses: ReadonlyMap<NodeId, readonly ReplicaStatus[]>;
}): StatusReport {
  const partitions = [...input.configs]
    .sort((a, b) => a.partition.localeCompare(b.partition, 'en', { numeric: true }))
    .map((c) => {
      const h = partitionHealth(c);
      const progress: StatusReport['partitions'][number]['progress'] = {};
      for (const node of c.replicas) {
        const s = input.replicaStatuses.get(node)?.find((r) => r.partition === c.partition);
        if (s) {
          progress[node] = {
            role: s.role,
            epoch: s.epoch,
            lastPersistedLsn: s.lastPersistedLsn,
            committedLsn: s.committedLsn,
            appliedLsn: s.appliedLsn,
          };
        }
      }
      return {
        partition: c.partition,
        epoch: c.epoch,
        status: c.status,
        primary: c.primary,
        replicas: c.replicas,
        building: c.building,
        health: h.status,
        reason: h.reason,
        progress,
      };
    });
  const nodes = [...input.nodes]
    .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }))
    .map((n) => ({
      id: n.id,
      address: n.address,
      draining: n.draining,
      readsFormat: advertisedFormat(n),
      reachable: input.replicaStatuses.has(n.id),
      replicas: input.configs.filter((c) => c.replicas.includes(n.id)).length,
      primaries: input.configs.filter((c) => c.primary === n.id).length,
    }));
  const nodeHealth: HealthState[] = nodes.map((n) =>
    n.reachable ? (n.draining ? 'WARNING' : 'OK') : 'WARNING',
  );
  const health =
    input.nodes.length === 0 ? 'ERROR' : worst([...partitions.map((p) => p.health), ...nodeHealth]);
  return {
    cluster: input.cluster,
    health,
    failoverManager: input.failoverManager,
    writeFormat: clusterWriteFormat(input.nodes),
    nodes,
    partitions,
  };
}

/** Human-readable rendering of the report. */
export function renderStatusReport(report: StatusReport): string {
  const lines: string[] = [];
  lines.push(
    `cluster ${report.cluster}: ${report.health}   failover manager: ${report.failoverManager ?? '(none)'}   persisted write format: ${report.writeFormat}`,
  );
  lines.push('');
  lines.push('NODE      ADDRESS                 REPLICAS  PRIMARIES  FORMAT  STATE');
  for (const n of report.nodes) {
    const state = !n.reachable ? 'UNREACHABLE' : n.draining ? 'DRAINING' : 'UP';
    lines.push(
      `${n.id.padEnd(9)} ${n.address.padEnd(23)} ${String(n.replicas).padStart(8)}  ${String(n.primaries).padStart(9)}  ${String(n.readsFormat).padStart(6)}  ${state}`,
    );
  }
  lines.push('');
  lines.push('PARTITION            EPOCH  PRIMARY  REPLICAS (role:persisted/committed LSN)          HEALTH');
  for (const p of report.partitions) {
    const replicas = p.replicas
      .map((n) => {
        const g = p.progress[n];
        const tag = p.building.includes(n) ? '*' : '';
        return g ? `${n}${tag}:${g.lastPersistedLsn}/${g.committedLsn}` : `${n}${tag}:?`;
      })
      .join(' ');
    const health = p.reason ? `${p.health} (${p.reason})` : p.health;
    lines.push(
      `${p.partition.padEnd(20)} ${String(p.epoch).padStart(5)}  ${(p.primary ?? '-').padEnd(7)}  ${replicas.padEnd(46)} ${health}`,
    );
  }
  if (report.partitions.length === 0) lines.push('(no partitions placed yet)');
  lines.push('');
  lines.push('* = building');
  return `${lines.join('\n')}\n`;
}
