/**
 * Memory: RSS of a real node process hosting 100,000 idle persistent actors (target < 1 GiB).
 * One node (replica sets of one) so the figure is the actor host's own cost; each actor is
 * activated by one call (nact persistent actor, recovered from the replicated store) and then
 * left idle. Printed as a ratio to the same node's RSS before any actor was activated.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorProxy } from '../cluster/actors/actor-proxy.js';
import { defaultManifestPaths, loadManifests, partitionIds } from '../cluster/config/manifest.js';
import { startEtcd } from '../cluster/etcd/launcher.js';
import { ConfigStore } from '../cluster/failover/config-store.js';
import { createEtcdClient } from '../cluster/membership/etcd-client.js';
import { launchNode } from '../cluster/node/node-launcher.js';
import { printFigure } from './support/report.js';

const actorCount = Number(process.env.MF_BENCH_ACTORS ?? 100_000);
const concurrency = 256;
const services = loadManifests(defaultManifestPaths());
const partitionCount = services.flatMap((s) => partitionIds(s)).length;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb * 1024;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const base = mkdtempSync(join(tmpdir(), 'mf-bench-actors-'));
const [clientPort, peerPort, nodePort] = [await freePort(), await freePort(), await freePort()];
const etcd = await startEtcd({ dataDir: join(base, 'etcd'), clientPort, peerPort });
const node = await launchNode({
  id: 'n1',
  listen: `127.0.0.1:${nodePort}`,
  dataDir: join(base, 'n1'),
  etcd: etcd.endpoint,
  logPath: join(base, 'n1.log'),
  env: { MF_INITIAL_CLUSTER_SIZE: '1', MF_LOG_LEVEL: 'warn' },
});
const client = createEtcdClient([etcd.endpoint]);
const proxy = new ActorProxy({ client, cluster: 'meterfabric', services });
try {
  const store = new ConfigStore(client, 'meterfabric');
  for (;;) {
    const all = await store.readAll();
    if (all.size === partitionCount && [...all.values()].every((v) => v.config.status === 'ok')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await proxy.start();
  await proxy.call('counter', 'warmup', 'get', null);
  const baseline = rssBytes(node.pid);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < actorCount) {
        const i = next++;
        await proxy.call('counter', `idle-${i}`, 'get', null);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 2000));
  const after = rssBytes(node.pid);
  console.log(`actors: ${actorCount.toLocaleString('en-US')} idle persistent actors on one node`);
  printFigure('activation rate', (actorCount * 1000) / elapsedMs, 'actors/s');
  printFigure('node RSS before activation (baseline)', baseline / 2 ** 20, 'MiB', 'baseline');
  printFigure(
    `node RSS with ${actorCount.toLocaleString('en-US')} idle actors`,
    after / 2 ** 20,
    'MiB',
    `${(after / baseline).toFixed(2)}x baseline; ${((after / 2 ** 30) * 100).toFixed(0)}% of the 1 GiB target`,
  );
  printFigure('per actor', (after - baseline) / actorCount, 'bytes');
} finally {
  await proxy.close();
  node.process.kill('SIGKILL');
  await node.exited;
  client.close();
  await etcd.stop();
  rmSync(base, { recursive: true, force: true });
}
process.exit(0);
