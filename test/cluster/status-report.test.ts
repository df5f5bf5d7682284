import { describe, expect, it } from 'vitest';
import { buildStatusReport, renderStatusReport } from '../../cluster/cli/status-report.js';
import { builtReplicas, findMismatches } from '../../cluster/failover/replica-audit.js';
import type { NodeRecord } from '../../cluster/membership/membership.js';
import type { PartitionConfiguration, ReplicaStatus } from '../../cluster/replicator/contract.js';

const node = (id: string): NodeRecord => ({
  id,
  address: `127.0.0.1:710${id.slice(1)}`,
  metricsAddress: '',
  startedAt: '',
  version: '0',
  draining: false,
});
const status = (
  partition: string,
  role: ReplicaStatus['role'],
  epoch: number,
  persisted: number,
  committed = persisted,
): ReplicaStatus => ({
  partition,
  role,
  epoch,
  lastPersistedLsn: persisted,
  committedLsn: committed,
  appliedLsn: committed,
  lastPersistedEpoch: epoch,
});
const ok: PartitionConfiguration = {
  partition: 's/0',
  epoch: 2,
  primary: 'n1',
  replicas: ['n1', 'n2', 'n3'],
  building: [],
  status: 'ok',
  previousEpochLastLsn: 0,
};

describe('status report', () => {
  it('is OK with LSNs per replica when every partition is healthy', () => {
    const report = buildStatusReport({
      cluster: 'c',
      failoverManager: 'n1',
      nodes: [node('n1'), node('n2'), node('n3')],
      configs: [ok],
      replicaStatuses: new Map([
        ['n1', [status('s/0', 'primary', 2, 10)]],
        ['n2', [status('s/0', 'active-secondary', 2, 10)]],
        ['n3', [status('s/0', 'active-secondary', 2, 9)]],
      ]),
    });
    expect(report.health).toBe('OK');
    expect(report.partitions[0]?.progress.n3).toEqual({
      role: 'active-secondary',
      epoch: 2,
      lastPersistedLsn: 9,
      committedLsn: 9,
      appliedLsn: 9,
    });
    expect(renderStatusReport(report)).toContain('n1:10/10 n2:10/10 n3:9/9');
  });

  it('is ERROR on quorum loss and WARNING while building or under-replicated', () => {
    const lost = { ...ok, status: 'quorum-loss' as const, primary: null };
    const building = { ...ok, partition: 's/1', building: ['n3'] };
    const report = buildStatusReport({
      cluster: 'c',
      failoverManager: null,
      nodes: [node('n1')],
      configs: [lost, building],
      replicaStatuses: new Map(),
    });
    expect(report.health).toBe('ERROR');
    expect(report.partitions.map((p) => p.health)).toEqual(['ERROR', 'WARNING']);
    expect(renderStatusReport(report)).toContain('quorum loss');
  });
});

describe('replica audit', () => {
  const members = new Map(['n1', 'n2', 'n3'].map((id) => [id, node(id)]));
  it('flags a replica that restarted and holds no role, and a primary that is not acting as one', () => {
    const statuses = new Map([
      ['n1', new Map([['s/0', status('s/0', 'active-secondary', 2, 5)]])],
      ['n2', new Map([['s/0', status('s/0', 'active-secondary', 2, 5)]])],
      ['n3', new Map()],
    ]);
    expect(findMismatches(ok, statuses, members).sort()).toEqual(['n1', 'n3']);
  });

  it('treats a building replica as built once it holds what the primary committed', () => {
    const config = { ...ok, building: ['n3'] };
    const statuses = new Map([
      ['n1', new Map([['s/0', status('s/0', 'primary', 2, 20, 18)]])],
      ['n3', new Map([['s/0', status('s/0', 'idle-secondary', 2, 17)]])],
    ]);
    expect([...builtReplicas(config, statuses)]).toEqual([]);
    statuses.set('n3', new Map([['s/0', status('s/0', 'idle-secondary', 2, 18)]]));
    expect([...builtReplicas(config, statuses)]).toEqual(['n3']);
  });
});
