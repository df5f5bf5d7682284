import type { Watcher } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigStore } from '../../cluster/failover/config-store.js';
import { activeCount } from '../../cluster/failover/reconfiguration.js';
import type { PartitionConfiguration } from '../../cluster/replicator/contract.js';
import {
  expectQuorumLossRefusal,
  expectWritesKeptAndServiceBack,
  keysWrittenBeforeOutage,
  statusDuringOutage,
  waitForQuorumLoss,
} from './support/quorum-loss.js';
import { stableClusterPerFile } from './support/stable-cluster-per-file.js';

/** Every service of the runtime manifest keeps the default target 3, so the minimum is 2. */
const minReplicas = 2;

describe('power loss: every node killed, restarted one at a time', () => {
  const started = stableClusterPerFile();
  let watcher: Watcher | null = null;
  /** Every configuration version etcd stored after the power loss. */
  const history: PartitionConfiguration[] = [];
  afterAll(async () => {
    await watcher?.cancel();
  });

  it('commits no configuration below the minimum replica-set size, refuses writes with MF_QUORUM_LOSS, and comes back with every acknowledged write', {
    timeout: 400_000,
  }, async () => {
    const cluster = started();
    const { proxy, keys } = await keysWrittenBeforeOutage(cluster, 1, 'pl');

    watcher = await new ConfigStore(cluster.client, 'meterfabric').watch(
      (v) => history.push(v.config),
      () => undefined,
    );
    await Promise.all(['n1', 'n2', 'n3'].map((id) => cluster.signal(id, 'SIGKILL')));
    await cluster.startNode('n1');

    const waiting = await waitForQuorumLoss(
      cluster,
      'every partition to wait in quorum loss with one node up',
      90_000,
    );
    for (const c of waiting.values()) {
      // The old voters are kept: a later majority must still come from them.
      expect(c.replicas).toHaveLength(3);
      expect(c.reason).toMatch(/^quorum loss: /);
    }

    const refused = await expectQuorumLossRefusal(proxy, keys[0]!, 'pl-refused');
    // Not "a majority is down" only: the message names the minimum and the FM's reason for waiting.
    expect(refused.message).toMatch(
      /or fewer than its minimum replica-set size are up: quorum loss: .*; writes are refused/,
    );

    // `meterfabric status` says why each partition waits.
    for (const p of statusDuringOutage(cluster).partitions)
      expect(p).toMatchObject({ health: 'ERROR', reason: expect.stringMatching(/^quorum loss: /) });

    await cluster.startNode('n2');
    await cluster.waitStable(2, 180_000);
    await expectWritesKeptAndServiceBack(proxy, keys, 'pl');

    // Over the whole outage and recovery, no committed configuration fell below the minimum.
    expect(history.length).toBeGreaterThan(0);
    const belowMinimum = history.filter(
      (c) => c.status === 'ok' && activeCount(c.replicas, c.building) < minReplicas,
    );
    expect(belowMinimum).toEqual([]);
  });
});
