import type { NodeId, PartitionConfiguration, PartitionId, ReplicaStatus } from '../replicator/contract.js';
import type { Health, NodeMetrics } from './metrics.js';

export type PartitionHealth = { partition: PartitionId; status: 'OK' | 'WARNING' | 'ERROR'; reason: string };

/**
 * Health of one partition from its configuration (Service Fabric's model): ERROR when it has
 * no primary (quorum loss, reconfiguring), WARNING when under-replicated or building, else OK.
 */
export function partitionHealth(config: PartitionConfiguration, targetReplicas = 3): PartitionHealth {
  const p = config.partition;
  if (config.status === 'quorum-loss') {
    // The FM records why it waits (no majority answered, or below the minimum replica-set size).
    const reason = config.reason ?? 'quorum loss: writes refused until replicas return';
    return { partition: p, status: 'ERROR', reason };
  }
  if (config.status === 'reconfiguring' || config.primary === null)
    return { partition: p, status: 'ERROR', reason: 'no primary (reconfiguring)' };
  if (config.building.length > 0)
    return { partition: p, status: 'WARNING', reason: `building ${config.building.join(',')}` };
  if (config.replicas.length < targetReplicas) {
    return {
      partition: p,
      status: 'WARNING',
      reason: `${config.replicas.length} of ${targetReplicas} replicas`,
    };
  }
  return { partition: p, status: 'OK', reason: '' };
}

export function worst(statuses: ReadonlyArray<'OK' | 'WARNING' | 'ERROR'>): 'OK' | 'WARNING' | 'ERROR' {
  if (statuses.includes('ERROR')) return 'ERROR';
  if (statuses.includes('WARNING')) return 'WARNING';
  return 'OK';
}

/** Node health: ERROR when its lease is not valid (it has fenced itself), else the worst of its partitions. */
export function nodeHealth(input: {
  nodeId: NodeId;
  nowMs: number;
  leaseValidUntilMs: number;
  draining: boolean;
  replicas: readonly ReplicaStatus[];
  configs: ReadonlyMap<PartitionId, PartitionConfiguration>;
  metrics: NodeMetrics;
}): Health {
  const leaseValidForMs = input.leaseValidUntilMs - input.nowMs;
  input.metrics.leaseValidForMs.set(Math.max(0, leaseValidForMs));
  input.metrics.replicas.reset();
  for (const r of input.replicas) input.metrics.replicas.inc({ role: r.role });
  const mine = [...input.configs.values()]
    .filter((c) => c.replicas.includes(input.nodeId))
    .map((c) => partitionHealth(c));
  const problems = mine.filter((h) => h.status !== 'OK');
  const leaseStatus = leaseValidForMs > 0 ? 'OK' : 'ERROR';
  return {
    status: worst([leaseStatus, ...mine.map((h) => h.status), input.draining ? 'WARNING' : 'OK']),
    node: input.nodeId,
    leaseValidForMs,
    draining: input.draining,
    replicas: input.replicas.length,
    problems: problems.slice(0, 50),
  };
}
