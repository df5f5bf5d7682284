/**
 * Faults on every link: in a chaos cluster each node reaches every peer and etcd only through
 * its own proxy, so a toxic on one link affects exactly that link. Needs the build and etcd.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blackhole, healAll } from '../../chaos/nemesis/link-faults.js';
import { allLinks, linkName } from '../../chaos/nemesis/topology.js';
import { ChaosCluster, clusterName } from '../../chaos/runner/chaos-cluster.js';
import { waitForRecovery } from '../../chaos/runner/run-scenario.js';
import { etcdAvailable } from '../../cluster/etcd/launcher.js';
import { keys } from '../../cluster/membership/etcd-client.js';
import { packageRoot } from '../../core/paths.js';

const ready = existsSync(join(packageRoot, 'dist/cluster/cli/main.js')) && etcdAvailable();
const baseDir = mkdtempSync(join(tmpdir(), 'mf-chaos-topology-'));
let cluster: ChaosCluster | undefined;

async function members(c: ChaosCluster): Promise<string[]> {
  const records = await c.etcdClient.getAll().prefix(keys.nodes(clusterName)).keys();
  return records.map((k) => k.slice(keys.nodes(clusterName).length)).sort();
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  if (!ready) return;
  cluster = await ChaosCluster.start({ baseDir, toxiproxyIn: 'this-process' });
  const healthy = await waitForRecovery(cluster, Date.now(), 90_000);
  if (!healthy.valid) throw new Error(`cluster not healthy: ${healthy.anomalies[0]?.message}`);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(baseDir, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!ready)('chaos topology: a proxy on every link', () => {
  it('plans one proxy per directed node-to-node link and per node-to-etcd link', () => {
    expect(allLinks(['n1', 'n2', 'n3']).map(linkName).sort()).toEqual(
      ['n1>etcd', 'n1>n2', 'n1>n3', 'n2>etcd', 'n2>n1', 'n2>n3', 'n3>etcd', 'n3>n1', 'n3>n2'].sort(),
    );
  });

  it('node-to-etcd traffic of every node flows through its own proxy', async () => {
    const counts = cluster!.linkConnectionCounts()!;
    for (const node of ['n1', 'n2', 'n3'])
      expect(counts.get(`${node}>etcd`), `${node}>etcd`).toBeGreaterThan(0);
  });

  it('replication between nodes flows through the node-to-node proxies', async () => {
    const proxy = await cluster!.actorProxy();
    for (let i = 0; i < 20; i++) await proxy.call('counter', `topology-${i}`, 'increment', { by: 1 });
    const counts = cluster!.linkConnectionCounts()!;
    const nodeLinks = [...counts.entries()].filter(([name]) => !name.endsWith('>etcd'));
    expect(nodeLinks.filter(([, n]) => n > 0).length, JSON.stringify(nodeLinks)).toBeGreaterThanOrEqual(3);
  });

  it('cutting one node from etcd expires its membership only; healing brings it back', async () => {
    const c = cluster!;
    expect(await members(c)).toEqual(['n1', 'n2', 'n3']);
    await blackhole(c.toxiproxy!, { from: 'n1', to: 'etcd' });
    try {
      await until(
        async () => ((await members(c)).includes('n1') ? undefined : true),
        'n1 to leave membership',
        30_000,
      );
      expect(await members(c)).toEqual(['n2', 'n3']);
    } finally {
      await healAll(c.toxiproxy!);
    }
    await until(async () => ((await members(c)).includes('n1') ? true : undefined), 'n1 to rejoin', 30_000);
  }, 90_000);

  it('a killed node restarts on a port of its own even when its old port is taken; its links follow it', async () => {
    const c = cluster!;
    const oldPort = c.nodes.get('n3')!.port;
    await c.kill('n3');
    // Another process takes n3's old port (before nodes bound port 0 the restart hit EADDRINUSE).
    const holder = await new Promise<Server>((resolve, reject) => {
      const server = createServer().once('error', reject);
      server.listen(oldPort, '127.0.0.1', () => resolve(server));
    });
    try {
      // While n3 is down its links lead to the stand-in, not to a port anyone may take.
      const parked = await c.toxiproxy!.get('n1>n3');
      expect(parked.upstream).not.toBe(`127.0.0.1:${oldPort}`);

      await c.restart('n3');
      const newPort = c.nodes.get('n3')!.port;
      expect(newPort).not.toBe(oldPort);
      for (const from of ['n1', 'n2'])
        expect((await c.toxiproxy!.get(`${from}>n3`)).upstream).toBe(`127.0.0.1:${newPort}`);
      const healthy = await waitForRecovery(c, Date.now(), 90_000);
      expect(healthy.valid, healthy.anomalies[0]?.message).toBe(true);
      await until(
        async () => ((c.linkConnectionCounts()!.get('n1>n3') ?? 0) > 0 ? true : undefined),
        'n1 to reach n3 through its proxy',
        30_000,
      );
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  }, 150_000);
});
