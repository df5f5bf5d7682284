import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServicePorts } from '../../actors/host/service-ports.js';
import { freeLoopbackPort as freePort } from '../../chaos/nemesis/ports.js';
import { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import { loadManifests, partitionIds } from '../../cluster/config/manifest.js';
import { type EtcdHandle, startEtcd } from '../../cluster/etcd/launcher.js';
import { ConfigStore } from '../../cluster/failover/config-store.js';
import { createEtcdClient } from '../../cluster/membership/etcd-client.js';
import type { LaunchedNode } from '../../cluster/node/node-launcher.js';
import { packageRoot } from '../../core/paths.js';
import { replicated, withReplicaSet } from '../replication.bench.js';
import { originMs } from './headend-span.js';
import { type Measurement, printFigure } from './report.js';
import { launchThreeNodes } from './three-nodes.js';

/**
 * The cluster bench's set-up (bench/headend-cluster.bench.ts): etcd and three node processes
 * hosting the runtime's and the head-end's services, an ActorProxy once every partition has
 * three replicas, the replicated-write baseline, and the device-hosting figure (part 3).
 */

const manifests = [
  join(packageRoot, 'cluster', 'config', 'runtime-services.json'),
  join(packageRoot, 'actors', 'hosting', 'headend-services.json'),
];
const services = loadManifests(manifests);

async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export type BenchCluster = {
  base: string;
  etcd: EtcdHandle;
  nodes: LaunchedNode[];
  /** The nodes' listen ports, and their metrics endpoints. */
  nodePorts: number[];
  metricsAddresses: string[];
  store: ConfigStore;
  /** Set once the cluster is ready (every partition with three replicas). */
  proxy: ActorProxy | undefined;
  client: ReturnType<typeof createEtcdClient>;
  /** Partitions hosted (all services). */
  partitions: number;
};

/** etcd under `base`, ready for `launch` (the replicated-write baseline runs before the nodes). */
export async function startBenchEtcd(base: string): Promise<BenchCluster> {
  const [clientPort, peerPort, ...nodePorts] = await Promise.all(Array.from({ length: 8 }, freePort));
  const etcd = await startEtcd({ dataDir: join(base, 'etcd'), clientPort: clientPort!, peerPort: peerPort! });
  const client = createEtcdClient([etcd.endpoint]);
  const cluster: BenchCluster = {
    base,
    etcd,
    nodes: [],
    nodePorts: nodePorts.slice(0, 3),
    metricsAddresses: nodePorts.slice(3).map((port) => `127.0.0.1:${port}`),
    store: new ConfigStore(client, 'meterfabric'),
    proxy: undefined,
    client,
    partitions: services.flatMap((s) => partitionIds(s)).length,
  };
  return cluster;
}

/**
 * Three node processes (metrics on the cluster's addresses), then waits until every partition
 * has three replicas and opens the proxy. Returns the wall time it took.
 */
export async function launchBenchNodes(cluster: BenchCluster): Promise<number> {
  const started = performance.now();
  await launchThreeNodes({
    base: cluster.base,
    etcd: cluster.etcd.endpoint,
    ports: cluster.nodePorts,
    into: cluster.nodes,
    env: (i) => ({
      MF_MANIFESTS: manifests.join(','),
      MF_LOG_LEVEL: 'warn',
      MF_METRICS_LISTEN: cluster.metricsAddresses[i]!,
    }),
  });
  const expected = services.flatMap((s) => partitionIds(s));
  await until(
    async () => {
      const all = await cluster.store.readAll();
      return expected.every((p) => {
        const c = all.get(p)?.config;
        return (
          c?.status === 'ok' && c.primary !== undefined && c.replicas.length === 3 && c.building.length === 0
        );
      });
    },
    120_000,
    'every partition to have three replicas',
  );
  const readyMs = performance.now() - started;
  cluster.proxy = new ActorProxy({
    client: cluster.client,
    cluster: 'meterfabric',
    services,
    defaultDeadlineMs: 120_000,
  });
  await cluster.proxy.start();
  return readyMs;
}

/** How long profiled nodes get to drain and exit on SIGTERM before they are killed. */
const profiledExitMs = 20_000;

/**
 * Stops the proxy, the nodes (SIGKILL, by PID) and etcd. Nodes started with `--cpu-prof`
 * (MF_NODE_EXEC_ARGV) write their profile only when they exit by themselves, so they are asked
 * first (SIGTERM: they drain and exit) and killed only if still running after `profiledExitMs`.
 */
export async function stopBenchCluster(cluster: BenchCluster): Promise<void> {
  await cluster.proxy?.close().catch(() => undefined);
  if ((process.env.MF_NODE_EXEC_ARGV ?? '').includes('--cpu-prof')) {
    for (const node of cluster.nodes) node.process.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(cluster.nodes.map((n) => n.exited)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, profiledExitMs);
      }),
    ]);
    clearTimeout(timer);
  }
  for (const node of cluster.nodes)
    if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill('SIGKILL');
  await Promise.all(cluster.nodes.map((n) => n.exited));
  cluster.client.close();
  await cluster.etcd.stop();
}

/** The runtime's replicated-write rate (bench/replication.bench.ts's own code), warmed up first. */
export async function replicatedWriteRate(
  base: string,
  label: string,
  durationMs: number,
): Promise<Measurement> {
  const dir = mkdtempSync(join(base, `repl-${label}-`));
  return withReplicaSet(dir, async (replicas) => {
    await replicated(replicas, 1_000, null); // warm-up, as the replication bench does
    return replicated(replicas, durationMs, null);
  });
}

/** Resident set of a process, from /proc (Linux). */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/**
 * Part 3: hosts `count` device actors (20 meters each) under the head-end name `dev10k`, then
 * prints how many each node hosts as primary and the node processes' RSS.
 */
export async function printDeviceHosting(
  cluster: BenchCluster,
  ports: ServicePorts,
  count: number,
  inFlight: number,
): Promise<void> {
  const name = 'dev10k';
  const start = performance.now();
  let next = 0;
  const one = async () => {
    for (let i = next++; i < count; i = next++) {
      const serials = Array.from({ length: 20 }, (_, m) => `UAAEEDN${String(i * 20 + m).padStart(11, '0')}`);
      await ports.deliver(
        { service: 'device', key: `${name}/TD-${i}` },
        {
          type: 'deliver',
          deliveries: [{ from: 'bench', seq: 1, commands: [{ type: 'setMeters', meters: serials }] }],
        },
        originMs,
        `bench-devices-${i}`,
      );
    }
  };
  await Promise.all(Array.from({ length: inFlight }, one));
  const hostingMs = performance.now() - start;
  const configs = await cluster.store.readAll();
  const perNode = new Map<string, number>(cluster.nodes.map((n) => [n.id, 0]));
  for (let i = 0; i < count; i++) {
    const primary = configs.get(cluster.proxy!.partitionOf('device', `${name}/TD-${i}`))?.config.primary;
    if (primary) perNode.set(primary, (perNode.get(primary) ?? 0) + 1);
  }
  console.log(
    `device actors, ${count.toLocaleString('en-US')} concentrators x 20 meters hosted on the cluster (per node process, primaries)`,
  );
  printFigure(`hosting them (setMeters, ${inFlight} calls in flight)`, hostingMs / 1000, 's');
  for (const node of cluster.nodes)
    printFigure(
      `${node.id}: device actors (primary) / RSS`,
      perNode.get(node.id) ?? 0,
      'actors',
      `RSS ${rssMiB(node.pid).toFixed(0)} MiB`,
    );
}
