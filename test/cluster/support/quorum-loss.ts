import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ActorProxy } from '../../../cluster/actors/actor-proxy.js';
import { keys } from '../../../cluster/membership/etcd-client.js';
import type { PartitionConfiguration } from '../../../cluster/replicator/contract.js';
import { packageRoot } from '../../../core/paths.js';
import { waitFor } from '../../support/wait.js';
import type { TestCluster } from './test-cluster.js';
import { keysPerPartition } from './workload.js';

/**
 * What the quorum-loss tests share (with stableClusterPerFile from stable-cluster-per-file.ts): acknowledged
 * writes before the outage, the waiting state and its refusal, `status --json` during it,
 * and every acknowledged write back afterwards.
 */

/** A proxy and `perPartition` keys of every counter partition, each written once (writeOncePerKey). */
export async function keysWrittenBeforeOutage(
  cluster: TestCluster,
  perPartition: number,
  prefix: string,
): Promise<{ proxy: ActorProxy; keys: string[] }> {
  const proxy = await cluster.proxy();
  const keys = keysPerPartition(proxy, perPartition, prefix);
  await writeOncePerKey(proxy, keys, prefix);
  return { proxy, keys };
}

/** Key i is incremented by i + 1 once (idempotency key `<prefix>-<key>`), acknowledged. */
export async function writeOncePerKey(
  proxy: ActorProxy,
  keys: readonly string[],
  prefix: string,
): Promise<void> {
  for (const [i, key] of keys.entries()) {
    await proxy.call('counter', key, 'increment', { by: i + 1 }, { idempotencyKey: `${prefix}-${key}` });
  }
}

/**
 * Waits until every partition reports quorum loss with no primary; returns the configurations.
 * `down`: nodes killed for the outage. Until etcd has dropped each one's membership (its lease
 * ran out), the FM rightly counts it as live and may try again, turning a partition from
 * quorum loss back to reconfiguring for a moment: the state is only settled after that.
 */
export async function waitForQuorumLoss(
  cluster: TestCluster,
  what: string,
  timeoutMs: number,
  down: readonly string[] = [],
): Promise<Map<string, PartitionConfiguration>> {
  await waitFor(
    async () => {
      for (const id of down)
        if ((await cluster.client.get(keys.node('meterfabric', id)).string()) !== null) return false;
      return true;
    },
    `the membership of ${down.join(', ')} to expire`,
    timeoutMs,
    250,
  );
  return waitFor(
    async () => {
      const configs = await cluster.configs();
      const all = [...configs.values()];
      return all.length === cluster.partitions.length &&
        all.every((c) => c.status === 'quorum-loss' && c.primary === null)
        ? configs
        : null;
    },
    what,
    timeoutMs,
    250,
  );
}

/** A write during quorum loss is refused with MF_QUORUM_LOSS; returns the error for more checks. */
export async function expectQuorumLossRefusal(
  proxy: ActorProxy,
  key: string,
  idempotencyKey: string,
): Promise<Error> {
  const refused = await proxy
    .call('counter', key, 'increment', { by: 1000 }, { idempotencyKey })
    .catch((e: unknown) => e);
  expect(refused).toMatchObject({
    code: 'MF_QUORUM_LOSS',
    message: expect.stringContaining('has lost quorum'),
  });
  return refused as Error;
}

export type StatusJson = {
  health: string;
  partitions: Array<{ health: string; reason: string }>;
};

/** `meterfabric status --json` against the cluster's etcd; it exits 1 while anything is in ERROR. */
export function statusDuringOutage(cluster: TestCluster): StatusJson {
  const status = spawnSync(
    process.execPath,
    [join(packageRoot, 'bin', 'meterfabric.js'), 'status', '--json', '--etcd', cluster.etcd.endpoint],
    { encoding: 'utf8', timeout: 30_000 },
  );
  expect(status.status).toBe(1);
  const report = JSON.parse(status.stdout) as StatusJson;
  expect(report.partitions).toHaveLength(cluster.partitions.length);
  return report;
}

/**
 * After the outage: every write of writeOncePerKey is there exactly once, and a new write to
 * the first key succeeds on top of it (idempotency key `<prefix>-after`).
 */
export async function expectWritesKeptAndServiceBack(
  proxy: ActorProxy,
  keys: readonly string[],
  prefix: string,
): Promise<void> {
  for (const [i, key] of keys.entries()) {
    expect(await proxy.call('counter', key, 'get', null)).toEqual({ value: i + 1, increments: 1 });
  }
  const resumed = await proxy.call<{ value: number }>(
    'counter',
    keys[0]!,
    'increment',
    { by: 100 },
    { idempotencyKey: `${prefix}-after` },
  );
  expect(resumed.value).toBe(101);
}
