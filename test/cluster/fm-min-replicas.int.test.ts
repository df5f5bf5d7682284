import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceSpec } from '../../cluster/config/manifest.js';
import { ConfigStore } from '../../cluster/failover/config-store.js';
import { FailoverManager, type ReplicaRpc } from '../../cluster/failover/failover-manager.js';
import { createEtcdClient, keys } from '../../cluster/membership/etcd-client.js';
import type { NodeRecord } from '../../cluster/membership/membership.js';
import type { FenceResult, PartitionConfiguration } from '../../cluster/replicator/contract.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { startTestEtcd, type TestEtcd } from '../support/etcd.js';

/**
 * The failover manager's driver against real etcd (compare-revision writes), with the
 * replicas' fence answers given as data: this replays the exact interleaving the chaos suite
 * hit — a pass that starts while only n1 is a member, n2 joining before the fence — which
 * node processes hit only by chance. The node-level shape is in power-loss.int.test.ts.
 */
const cluster = 'h9-min-replicas';
const services: ServiceSpec[] = [
  { name: 'counter', partitioning: { kind: 'singleton' }, replicas: 3 },
  { name: 'solo', partitioning: { kind: 'singleton' }, replicas: 1 },
];

const record = (id: string): NodeRecord => ({
  id,
  address: `127.0.0.1:1`,
  metricsAddress: '127.0.0.1:1',
  startedAt: '2026-11-23T00:00:00Z',
  version: 'test',
  draining: false,
});
const membersOf = (...ids: string[]) => new Map(ids.map((id) => [id, record(id)]));

describe('failover manager: minimum replica-set size', () => {
  let etcd: TestEtcd;
  let client: Etcd3;
  beforeAll(async () => {
    etcd = await startTestEtcd();
    client = createEtcdClient([etcd.endpoint]);
  });
  afterAll(async () => {
    client?.close();
    await etcd?.cleanup();
  });

  it('a pass that saw one member commits no one-replica set; the next pass re-forms with two; no epoch churn while waiting', {
    timeout: 60_000,
  }, async () => {
    const token = (await client.put(keys.fm(cluster)).value('test-fm')).header.revision;
    const store = new ConfigStore(client, cluster);
    await store.write(
      {
        partition: 'counter/0',
        epoch: 4,
        primary: 'n3',
        replicas: ['n3', 'n1', 'n2'],
        building: [],
        status: 'ok',
        previousEpochLastLsn: 0,
      },
      '0',
      token,
    );

    // Membership as the FM reads it: only n1 at the start of the first pass, n2 right after.
    const snapshots = [membersOf('n1')];
    let current = membersOf('n1', 'n2');
    const fenced: string[] = [];
    const rpc: ReplicaRpc = {
      async fence(node, partition, epoch): Promise<FenceResult> {
        fenced.push(`${node}@${epoch}`);
        return { partition, fencedEpoch: epoch, lastPersistedEpoch: 4, lastPersistedLsn: 41 };
      },
      async statuses() {
        return [];
      },
    };
    const fm = new FailoverManager({
      store,
      services,
      members: () => snapshots.shift() ?? current,
      rpc,
      clock: systemClock,
      logger: silentLogger,
      initialClusterSize: 3,
      reconcileIntervalMs: 600_000,
      fenceTimeoutMs: 1000,
      maxConcurrentReconfigurations: 1,
      mismatchGraceMs: 4000,
      leaseValid: () => true,
    });
    const config = async (p: string): Promise<PartitionConfiguration> =>
      (await store.readAll()).get(p)!.config;
    try {
      fm.lead(token);
      await fm.idle();
      // n1 and n2 answered the fence (a majority of the old set), but the pass planned [n1].
      expect(fenced).toContain('n2@5');
      const waiting = await config('counter/0');
      expect(waiting).toMatchObject({
        epoch: 5,
        primary: null,
        status: 'quorum-loss',
        replicas: ['n3', 'n1', 'n2'],
      });
      expect(waiting.reason).toContain('minimum replica-set size is 2');
      // A one-replica service is placed and served on one node (its minimum is 1).
      expect(await config('solo/0')).toMatchObject({ status: 'ok', primary: 'n1', replicas: ['n1'] });

      fm.poke();
      await fm.idle();
      const reformed = await config('counter/0');
      expect(reformed).toMatchObject({ epoch: 6, primary: 'n1', replicas: ['n1', 'n2'], status: 'ok' });
      expect(reformed.reason).toBeUndefined();

      // n2 leaves again: quorum loss once, then no new epochs while nothing can change.
      current = membersOf('n1');
      fm.poke();
      await fm.idle();
      expect(await config('counter/0')).toMatchObject({ epoch: 7, status: 'quorum-loss', primary: null });
      for (let i = 0; i < 3; i++) {
        fm.poke();
        await fm.idle();
      }
      expect((await config('counter/0')).epoch).toBe(7);
    } finally {
      fm.stop();
    }
  });
});
