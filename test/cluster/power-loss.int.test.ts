import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Watcher } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigStore } from '../../cluster/failover/config-store.js';
import { activeCount } from '../../cluster/failover/reconfiguration.js';
import type { PartitionConfiguration } from '../../cluster/replicator/contract.js';
import { packageRoot } from '../../core/paths.js';
import { waitFor } from '../support/wait.js';
import { allPartitions, TestCluster } from './support/test-cluster.js';
import { keysPerPartition } from './support/workload.js';

/** Every service of the runtime manifest keeps the default target 3, so the minimum is 2. */
const minReplicas = 2;

describe('power loss: every node killed, restarted one at a time', () => {
  let cluster: TestCluster;
  let watcher: Watcher | null = null;
  /** Every configuration version etcd stored after the power loss. */
  const history: PartitionConfiguration[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3 });
    await cluster.waitStable(3);
  });
  afterAll(async () => {
    await watcher?.cancel();
    await cluster?.stop();
  });

  it('commits no configuration below the minimum replica-set size, refuses writes with MF_QUORUM_LOSS, and comes back with every acknowledged write', {
    timeout: 400_000,
  }, async () => {
    const proxy = await cluster.proxy();
    const keys = keysPerPartition(proxy, 1, 'pl');
    for (const [i, key] of keys.entries()) {
      await proxy.call('counter', key, 'increment', { by: i + 1 }, { idempotencyKey: `pl-${key}` });
    }

    watcher = await new ConfigStore(cluster.client, 'meterfabric').watch(
      (v) => history.push(v.config),
      () => undefined,
    );
    await Promise.all(['n1', 'n2', 'n3'].map((id) => cluster.signal(id, 'SIGKILL')));
    await cluster.startNode('n1');

    const waiting = await waitFor(
      async () => {
        const configs = await cluster.configs();
        const all = [...configs.values()];
        return all.length === allPartitions.length &&
          all.every((c) => c.status === 'quorum-loss' && c.primary === null)
          ? configs
          : null;
      },
      'every partition to wait in quorum loss with one node up',
      90_000,
      250,
    );
    for (const c of waiting.values()) {
      // The old voters are kept: a later majority must still come from them.
      expect(c.replicas).toHaveLength(3);
      expect(c.reason).toMatch(/^quorum loss: /);
    }

    const refused = await proxy
      .call('counter', keys[0]!, 'increment', { by: 1000 }, { idempotencyKey: 'pl-refused' })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: 'MF_QUORUM_LOSS',
      message: expect.stringContaining('has lost quorum'),
    });
    // Not "a majority is down" only: the message names the minimum and the FM's reason for waiting.
    expect((refused as Error).message).toMatch(
      /or fewer than its minimum replica-set size are up: quorum loss: .*; writes are refused/,
    );

    // `meterfabric status` says why each partition waits.
    const status = spawnSync(
      process.execPath,
      [join(packageRoot, 'bin', 'meterfabric.js'), 'status', '--json', '--etcd', cluster.etcd.endpoint],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(status.status).toBe(1);
    const report = JSON.parse(status.stdout) as { partitions: Array<{ health: string; reason: string }> };
    expect(report.partitions).toHaveLength(allPartitions.length);
    for (const p of report.partitions)
      expect(p).toMatchObject({ health: 'ERROR', reason: expect.stringMatching(/^quorum loss: /) });

    await cluster.startNode('n2');
    await cluster.waitStable(2, 180_000);
    for (const [i, key] of keys.entries()) {
      expect(await proxy.call('counter', key, 'get', null)).toEqual({ value: i + 1, increments: 1 });
    }
    const resumed = await proxy.call<{ value: number }>(
      'counter',
      keys[0]!,
      'increment',
      { by: 100 },
      { idempotencyKey: 'pl-after' },
    );
    expect(resumed.value).toBe(101);

    // Over the whole outage and recovery, no committed configuration fell below the minimum.
    expect(history.length).toBeGreaterThan(0);
    const belowMinimum = history.filter(
      (c) => c.status === 'ok' && activeCount(c.replicas, c.building) < minReplicas,
    );
    expect(belowMinimum).toEqual([]);
  });
});
