import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../cluster/membership/etcd-client.js';
import type { NodeRecord } from '../../cluster/membership/membership.js';
import { packageRoot } from '../../core/paths.js';
import { waitFor } from '../support/wait.js';
import { allPartitions, TestCluster } from './support/test-cluster.js';

describe('a three-node cluster forms', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('places every partition of the hashed service (P=32) and the singleton on three distinct nodes, at most ceil(P/3)+1 primaries per node', async () => {
    const configs = await cluster.waitStable(3);
    expect(configs.size).toBe(allPartitions.length);
    expect(allPartitions.filter((p) => p.startsWith('counter/'))).toHaveLength(32);
    expect(configs.get('ledger/0')?.replicas).toHaveLength(3);
    const primaries = new Map<string, number>();
    for (const c of configs.values()) {
      expect(new Set(c.replicas).size).toBe(3);
      expect(c.replicas).toContain(c.primary);
      primaries.set(c.primary!, (primaries.get(c.primary!) ?? 0) + 1);
    }
    expect([...primaries.keys()].sort()).toEqual(['n1', 'n2', 'n3']);
    for (const count of primaries.values())
      expect(count).toBeLessThanOrEqual(Math.ceil(allPartitions.length / 3) + 1);
  });

  it('serves an actor call through ActorProxy, and a retry with the same idempotency key runs once', async () => {
    const proxy = await cluster.proxy();
    const first = await proxy.call<{ value: number }>(
      'counter',
      'forms-a',
      'increment',
      { by: 5 },
      { idempotencyKey: 'k-1' },
    );
    const retry = await proxy.call<{ value: number }>(
      'counter',
      'forms-a',
      'increment',
      { by: 5 },
      { idempotencyKey: 'k-1' },
    );
    expect(first).toEqual({ value: 5 });
    expect(retry).toEqual({ value: 5 });
    expect(await proxy.call('counter', 'forms-a', 'get', null)).toEqual({ value: 5, increments: 1 });
  });

  it('fires a volatile timer once on the primary', async () => {
    const proxy = await cluster.proxy();
    expect(await proxy.call('counter', 'forms-timer', 'tick', { afterMs: 200, by: 3 })).toEqual({
      armed: true,
    });
    const fired = await waitFor(
      async () => {
        const got = await proxy.call<{ value: number }>('counter', 'forms-timer', 'get', null);
        return got.value > 0 ? got : null;
      },
      'the timer to fire',
      20_000,
      100,
    );
    expect(fired).toEqual({ value: 3, increments: 1 });
    await new Promise((r) => setTimeout(r, 500));
    expect(await proxy.call('counter', 'forms-timer', 'get', null)).toEqual({ value: 3, increments: 1 });
  });

  it('refuses bad actor calls with clear errors and changes nothing', async () => {
    const proxy = await cluster.proxy();
    await expect(proxy.call('counter', 'forms-b', 'increment', { by: 'lots' })).rejects.toMatchObject({
      code: 'MF_BAD_REQUEST',
      message: expect.stringContaining('must be an integer'),
    });
    await expect(proxy.call('counter', 'forms-b', 'explode', null)).rejects.toMatchObject({
      code: 'MF_UNKNOWN_METHOD',
    });
    await expect(proxy.call('nosuch', 'x', 'get', null)).rejects.toMatchObject({
      code: 'MF_UNKNOWN_SERVICE',
    });
    await expect(
      proxy.call('counter', 'forms-b', 'increment', { by: 1, pad: 'x'.repeat(2 * 1024 * 1024) }),
    ).rejects.toMatchObject({
      code: 'MF_PAYLOAD_TOO_LARGE',
    });
    expect(await proxy.call('counter', 'forms-b', 'get', null)).toEqual({ value: 0, increments: 0 });
  });

  it('`meterfabric status --json` reports nodes, partitions with epoch/primary/replicas/LSNs and health OK', async () => {
    await cluster.waitStable(3);
    const result = spawnSync(
      process.execPath,
      [join(packageRoot, 'bin', 'meterfabric.js'), 'status', '--json', '--etcd', cluster.etcd.endpoint],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as {
      health: string;
      writeFormat: number;
      nodes: Array<{ id: string; reachable: boolean; readsFormat: number }>;
      partitions: Array<{
        partition: string;
        epoch: number;
        primary: string;
        replicas: string[];
        progress: Record<string, { lastPersistedLsn: number; role: string }>;
      }>;
    };
    expect(report.health).toBe('OK');
    expect(result.status).toBe(0);
    expect(report.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    expect(report.nodes.every((n) => n.reachable)).toBe(true);
    // Every node registers the persisted format it reads; all read 2, so the cluster writes 2.
    expect(report.nodes.map((n) => n.readsFormat)).toEqual([2, 2, 2]);
    expect(report.writeFormat).toBe(2);
    expect(report.partitions).toHaveLength(allPartitions.length);
    const p = report.partitions.find((x) => x.partition === 'counter/0')!;
    expect(p.epoch).toBeGreaterThanOrEqual(1);
    expect(Object.keys(p.progress).sort()).toEqual([...p.replicas].sort());
    expect(p.progress[p.primary]?.role).toBe('primary');
    expect(p.progress[p.primary]?.lastPersistedLsn).toBeGreaterThanOrEqual(1);
  });

  it('each node serves Prometheus /metrics and /health on its metrics address', async () => {
    const raw = await cluster.client.get(keys.node('meterfabric', 'n1')).string();
    const record = JSON.parse(raw!) as NodeRecord;
    const metrics = await (await fetch(`http://${record.metricsAddress}/metrics`)).text();
    expect(metrics).toContain('mf_lease_valid_for_ms');
    expect(metrics).toContain('mf_actor_calls_total');
    // The data plane's gauges: replica progress and group commit (operations per fsync).
    expect(metrics).toMatch(/mf_replica_committed_lsn\{partition="[^"]+"\} [1-9]/);
    expect(metrics).toMatch(/^mf_replica_log_fsyncs [1-9]/m);
    expect(metrics).toMatch(/^mf_replica_log_writes [1-9]/m);
    const health = (await (await fetch(`http://${record.metricsAddress}/health`)).json()) as {
      status: string;
      node: string;
    };
    expect(health).toMatchObject({ status: 'OK', node: 'n1' });
  });
});
