import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { waitFor } from '../support/wait.js';
import { allPartitions, TestCluster } from './support/test-cluster.js';
import { keysPerPartition } from './support/workload.js';

describe('two of three nodes down', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3 });
    await cluster.waitStable(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('reports quorum loss and refuses writes with a clear error; nothing is lost; a returning node restores service', {
    timeout: 300_000,
  }, async () => {
    const proxy = await cluster.proxy();
    const keys = keysPerPartition(proxy, 2, 'ql');
    for (const [i, key] of keys.entries()) {
      await proxy.call('counter', key, 'increment', { by: i + 1 }, { idempotencyKey: `ql-${key}` });
    }

    await Promise.all([cluster.signal('n2', 'SIGKILL'), cluster.signal('n3', 'SIGKILL')]);
    await waitFor(
      async () => {
        const configs = await cluster.configs();
        return [...configs.values()].every((c) => c.status === 'quorum-loss' && c.primary === null);
      },
      'every partition to report quorum loss',
      60_000,
      250,
    );

    const error = await proxy
      .call('counter', keys[0]!, 'increment', { by: 100 }, { idempotencyKey: 'ql-refused' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'MF_QUORUM_LOSS',
      message: expect.stringContaining('has lost quorum'),
    });

    const status = spawnSync(
      process.execPath,
      [join(packageRoot, 'bin', 'meterfabric.js'), 'status', '--json', '--etcd', cluster.etcd.endpoint],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(status.status).toBe(1);
    const report = JSON.parse(status.stdout) as {
      health: string;
      partitions: Array<{ health: string; reason: string }>;
    };
    expect(report.health).toBe('ERROR');
    expect(report.partitions).toHaveLength(allPartitions.length);
    for (const p of report.partitions)
      expect(p).toMatchObject({ health: 'ERROR', reason: expect.stringContaining('quorum loss') });

    // Epochs do not churn while nothing can change: quorum loss is a state, not a retry loop.
    const epochs = new Map([...(await cluster.configs())].map(([p, c]) => [p, c.epoch]));
    await new Promise((r) => setTimeout(r, 3000));
    for (const [p, c] of await cluster.configs()) expect(c.epoch).toBe(epochs.get(p));

    await cluster.startNode('n2');
    await cluster.waitStable(2, 120_000);
    for (const [i, key] of keys.entries()) {
      expect(await proxy.call('counter', key, 'get', null)).toEqual({ value: i + 1, increments: 1 });
    }
    const resumed = await proxy.call<{ value: number }>(
      'counter',
      keys[0]!,
      'increment',
      { by: 100 },
      { idempotencyKey: 'ql-after' },
    );
    expect(resumed.value).toBe(101);
  });
});
