/**
 * The head-end on the three-node cluster (issue 7, benchmarks).
 * 1. End-to-end readings/s from simulated concentrators to written CSV files and published
 *    CIM messages, with every head-end service hosted as a replicated actor (registry, work
 *    manager, jobs manager, workers, devices, TLog managers, integration stream:
 *    actors/hosting/headend-services.json) and this process as the HeadendDriver (field links
 *    and output writers). Real etcd, three real node processes, every partition with three
 *    replicas. The same simulated span runs again on the cluster with folded rounds (each
 *    step's completion and its acknowledgements sent with the next tick), with waves
 *    (MF_BENCH_WAVES=1; ActorLanes), and with the same machines in this process
 *    (InProcessPorts) to show what hosting costs. Then where the
 *    time went: rounds of commits per simulated hour, per-actor calls and latency, the nodes'
 *    call latency and CPU, the driver's CPU, one actor's serial call latency, and per service
 *    the bytes of the record an actor persists per call (sampled): with the full result as
 *    before issue 7, and with the outbox entry's id it stores now.
 * 2. The runtime's replicated-write rate in the same run (bench/replication.bench.ts's own
 *    code, imported): the head-end figure as a ratio to it, in readings per replicated write.
 * 3. Device actors per node and the node processes' RSS with 10,000 concentrators' device
 *    actors hosted (each given 20 meters).
 * Sizes: MF_BENCH_CONCENTRATORS (default 40) x MF_BENCH_METERS (20) for 1.;
 * MF_BENCH_STEP_MINUTES (15): simulated time per settled step; MF_BENCH_CALLS_IN_FLIGHT (64);
 * MF_BENCH_DEVICES (10000) for 3.; MF_BENCH_SPAN_MS (8000): wall time spent stepping in 1.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadendDriver } from '../actors/host/headend-driver.js';
import { ActorProxyPorts, InProcessPorts, type ServicePorts } from '../actors/host/service-ports.js';
import { CheckpointConsumer } from '../actors/integration/checkpoint-consumer.js';
import { SimulatedFleet } from '../actors/simulation/fleet.js';
import { ActorProxy } from '../cluster/actors/actor-proxy.js';
import { loadManifests, partitionIds } from '../cluster/config/manifest.js';
import { startEtcd } from '../cluster/etcd/launcher.js';
import { ConfigStore } from '../cluster/failover/config-store.js';
import { createEtcdClient } from '../cluster/membership/etcd-client.js';
import { type LaunchedNode, launchNode } from '../cluster/node/node-launcher.js';
import { ManualClock } from '../core/clock.js';
import { packageRoot } from '../core/paths.js';
import { replicated, withReplicaSet } from './replication.bench.js';
import { printBreakdown, type Span, scrape, serialCallMs, TimedPorts } from './support/headend-probe.js';
import { type Measurement, printFigure, printRatios, rate } from './support/report.js';

const concentrators = Number(process.env.MF_BENCH_CONCENTRATORS ?? 40);
const meters = Number(process.env.MF_BENCH_METERS ?? 20);
const deviceCount = Number(process.env.MF_BENCH_DEVICES ?? 10_000);
const spanWallMs = Number(process.env.MF_BENCH_SPAN_MS ?? 8_000);
const compareWaves = process.env.MF_BENCH_WAVES === '1';
const replicationMs = 3_000;
const devicesInFlight = 256;
/** The driver's bound on actor calls in flight (HeadendDriver's default is 64). */
const callsInFlight = Number(process.env.MF_BENCH_CALLS_IN_FLIGHT ?? 64);
const hourMs = 3_600_000;
const stepMs = Number(process.env.MF_BENCH_STEP_MINUTES ?? 15) * 60_000;
const originMs = Date.UTC(2026, 2, 10);
const manifests = [
  join(packageRoot, 'cluster', 'config', 'runtime-services.json'),
  join(packageRoot, 'actors', 'hosting', 'headend-services.json'),
];
const services = loadManifests(manifests);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Resident set of a process, from /proc (Linux). */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/**
 * Provisions the fleet through the driver, then steps simulated time (15-minute steps, each
 * settled and recorded done) until `wallBudgetMs` has passed or `endMs` is reached; counts the
 * readings the consumer wrote while stepping.
 */
async function driveSpan(
  ports: ServicePorts,
  name: string,
  outDir: string,
  stop: { wallBudgetMs: number } | { endMs: number },
  /**
   * `waves`: fan-in actors wait for their wave (ActorLanes); `folded`: a step's completion and
   * the acknowledgements go with the next step's tick instead of rounds of their own. Both
   * false: the driver as it was before them (the comparison in the same run).
   */
  variant: { waves: boolean; folded: boolean } = { waves: false, folded: false },
): Promise<Span> {
  const clock = new ManualClock(originMs);
  const fleet = new SimulatedFleet({
    concentrators,
    metersPerConcentrator: meters,
    seed: 11,
    originMs,
    clock,
    timeZones: ['UTC'],
  });
  let readings = 0;
  let driver: HeadendDriver | undefined;
  const consumer = await CheckpointConsumer.open({
    outDir,
    organization: 'BENCH',
    server: 'n1',
    clock,
    registry: () => driver!.registry,
    onWritten: (routed) => {
      for (const { record } of routed) if (record.type === 'reading') readings++;
    },
  });
  driver = new HeadendDriver({
    ports,
    clock,
    name,
    fieldLink: (id) => fleet.concentrator(id),
    writeStream: consumer.write,
    maxConcurrentCalls: callsInFlight,
    waves: variant.waves,
  });
  const provisionStart = performance.now();
  for (const command of fleet.provisioning()) driver.applyRegistry(command);
  await driver.settle();
  await consumer.flush();
  const provisionMs = performance.now() - provisionStart;
  readings = 0;
  const callsBefore = driver.callCount;
  const start = performance.now();
  const cpuBefore = process.cpuUsage();
  let t = originMs;
  let steps = 0;
  let activeSteps = 0;
  let activeMs = 0;
  if (ports instanceof TimedPorts) ports.recording = true;
  for (;;) {
    steps++;
    t += stepMs;
    clock.set(t);
    const stepStart = performance.now();
    const readingsBefore = readings;
    driver.tick();
    if (!variant.folded) {
      await driver.settle();
      await driver.stepDone(t);
    } else {
      // The step's first round of calls also carries the last step's completion and the
      // acknowledgements it left (neither takes a round of commits of its own).
      driver.flushAcks();
      await driver.settle({ acks: 'none' });
      driver.markStepDone(t);
    }
    if (readings > readingsBefore) {
      activeSteps++;
      activeMs += performance.now() - stepStart;
    }
    if ('endMs' in stop ? t >= stop.endMs : performance.now() - start >= stop.wallBudgetMs) break;
    if (t >= originMs + 25 * hourMs) break;
  }
  await driver.settle();
  await consumer.flush();
  if (ports instanceof TimedPorts) ports.recording = false;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    driverCpuMs: (cpu.user + cpu.system) / 1000,
    steps,
    activeSteps,
    activeMs,
    readings,
    elapsedMs: performance.now() - start,
    endMs: t,
    calls: driver.callCount - callsBefore,
    provisionMs,
  };
}

async function replicatedWriteRate(base: string, label: string): Promise<Measurement> {
  const dir = mkdtempSync(join(base, `repl-${label}-`));
  return withReplicaSet(dir, async (replicas) => {
    await replicated(replicas, 1_000, null); // warm-up, as the replication bench does
    return replicated(replicas, replicationMs, null);
  });
}

/** Hosts `count` device actors (20 meters each) under the head-end name `name`. */
async function hostDevices(ports: ServicePorts, name: string, count: number): Promise<number> {
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
  await Promise.all(Array.from({ length: devicesInFlight }, one));
  return performance.now() - start;
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'mf-bench-headend-cluster-'));
  const nodes: LaunchedNode[] = [];
  const [clientPort, peerPort, ...nodePorts] = await Promise.all(Array.from({ length: 8 }, freePort));
  const metricsAddresses = nodePorts.slice(3).map((port) => `127.0.0.1:${port}`);
  const etcd = await startEtcd({ dataDir: join(base, 'etcd'), clientPort: clientPort!, peerPort: peerPort! });
  const client = createEtcdClient([etcd.endpoint]);
  let proxy: ActorProxy | undefined;
  try {
    const replicationBefore = await replicatedWriteRate(base, 'before');
    const clusterStart = performance.now();
    for (const [i, id] of ['n1', 'n2', 'n3'].entries())
      nodes.push(
        await launchNode({
          id,
          listen: `127.0.0.1:${nodePorts[i]}`,
          dataDir: join(base, id),
          etcd: etcd.endpoint,
          logPath: join(base, `${id}.log`),
          env: {
            MF_MANIFESTS: manifests.join(','),
            MF_LOG_LEVEL: 'warn',
            MF_METRICS_LISTEN: metricsAddresses[i]!,
          },
        }),
      );
    const store = new ConfigStore(client, 'meterfabric');
    const expected = services.flatMap((s) => partitionIds(s));
    await until(
      async () => {
        const all = await store.readAll();
        return expected.every((p) => {
          const c = all.get(p)?.config;
          return (
            c?.status === 'ok' &&
            c.primary !== undefined &&
            c.replicas.length === 3 &&
            c.building.length === 0
          );
        });
      },
      120_000,
      'every partition to have three replicas',
    );
    const clusterReadyMs = performance.now() - clusterStart;
    proxy = new ActorProxy({ client, cluster: 'meterfabric', services, defaultDeadlineMs: 120_000 });
    await proxy.start();
    const ports = new ActorProxyPorts(proxy);
    const timed = new TimedPorts(ports);

    // Warm-up, not measured: the first span after the nodes start paid up to twice as much per
    // round as the later ones (JIT, partitions' first writes), whichever driver ran it.
    await driveSpan(ports, 'warm', join(base, 'out-warm'), { wallBudgetMs: 3_000 });
    const serial = await serialCallMs(proxy);
    const metricsBefore = await Promise.all(metricsAddresses.map(scrape));
    const cluster = await driveSpan(timed, 'bench', join(base, 'out-cluster'), { wallBudgetMs: spanWallMs });
    const metricsAfter = await Promise.all(metricsAddresses.map(scrape));
    // The same span with folded rounds (HeadendDriver.markStepDone, settle({flushAcks: false})):
    // fewer rounds of commits per simulated hour, each with more writes in it. Same load,
    // fresh actors.
    const timedFolded = new TimedPorts(ports);
    const folded = await driveSpan(
      timedFolded,
      'folded',
      join(base, 'out-folded'),
      { endMs: cluster.endMs },
      { waves: false, folded: true },
    );
    // And with waves too (ActorLanes, opt-in): fewer rounds, each as slow as its slowest call.
    const timedWaves = new TimedPorts(ports);
    const withWaves = compareWaves
      ? await driveSpan(
          timedWaves,
          'waves',
          join(base, 'out-waves'),
          { endMs: cluster.endMs },
          { waves: true, folded: true },
        )
      : undefined;
    const local = await driveSpan(new InProcessPorts(), 'bench', join(base, 'out-local'), {
      endMs: cluster.endMs,
    });
    const replicationAfter = await replicatedWriteRate(base, 'after');
    const replication: Measurement = {
      name: 'runtime: replicated writes (replication bench code)',
      ops: replicationBefore.ops + replicationAfter.ops,
      elapsedMs: replicationBefore.elapsedMs + replicationAfter.elapsedMs,
      unit: 'writes/s',
    };
    const hours = (cluster.endMs - originMs) / hourMs;
    const clusterRow: Measurement = {
      name: `head-end on 3 nodes, ${concentrators}x${meters} meters, ${hours} h`,
      ops: cluster.readings,
      elapsedMs: cluster.elapsedMs,
      unit: 'readings/s',
    };
    const foldedRow: Measurement = {
      name: 'same span on 3 nodes, folded rounds',
      ops: folded.readings,
      elapsedMs: folded.elapsedMs,
      unit: 'readings/s',
    };
    const localRow: Measurement = {
      name: 'same span, same machines in this process',
      ops: local.readings,
      elapsedMs: local.elapsedMs,
      unit: 'readings/s',
    };
    console.log(
      `cluster ready in ${(clusterReadyMs / 1000).toFixed(1)} s (etcd + 3 nodes, ${expected.length} partitions x 3 replicas)`,
    );
    printRatios(
      'end-to-end readings, simulated concentrators -> CSV + CIM, vs the runtime replicated-write rate (same run)',
      replication,
      [clusterRow, foldedRow, localRow],
    );
    printFigure('cluster: provisioning (registry, initialization jobs)', cluster.provisionMs / 1000, 's');
    printFigure(
      'cluster: readings per actor call',
      cluster.readings / Math.max(1, cluster.calls),
      'readings',
    );
    printFigure('cluster: actor calls per second', (cluster.calls * 1000) / cluster.elapsedMs, 'calls/s');
    printFigure('cluster vs in-process, same span', rate(clusterRow) / rate(localRow), 'x');
    const simHours = (cluster.endMs - originMs) / hourMs;
    console.log('rounds of commits per simulated hour (longest chain of calls one after another)');
    for (const [label, span, timing] of [
      ['the driver (a round for acknowledgements, one for the step)', cluster, timed],
      ['folded rounds', folded, timedFolded],
      ...(withWaves ? [['folded rounds and waves', withWaves, timedWaves] as const] : []),
    ] as const)
      printFigure(
        label,
        timing.rounds / simHours,
        'rounds',
        `${((span.readings * 1000) / span.elapsedMs).toFixed(0)} readings/s, ${span.calls} calls, ${(span.elapsedMs / timing.rounds).toFixed(0)} ms per round`,
      );
    printFigure('target 100,000 readings/s reached at', (100 * rate(clusterRow)) / 100_000, '%');
    printBreakdown(cluster, serial, timed, metricsBefore, metricsAfter);

    const deviceMs = await hostDevices(ports, 'dev10k', deviceCount);
    const configs = await store.readAll();
    const perNode = new Map<string, number>(nodes.map((n) => [n.id, 0]));
    for (let i = 0; i < deviceCount; i++) {
      const primary = configs.get(proxy.partitionOf('device', `dev10k/TD-${i}`))?.config.primary;
      if (primary) perNode.set(primary, (perNode.get(primary) ?? 0) + 1);
    }
    console.log(
      `device actors, ${deviceCount.toLocaleString('en-US')} concentrators x 20 meters hosted on the cluster (per node process, primaries)`,
    );
    printFigure(`hosting them (setMeters, ${devicesInFlight} calls in flight)`, deviceMs / 1000, 's');
    for (const node of nodes)
      printFigure(
        `${node.id}: device actors (primary) / RSS`,
        perNode.get(node.id) ?? 0,
        'actors',
        `RSS ${rssMiB(node.pid).toFixed(0)} MiB`,
      );
  } finally {
    await proxy?.close().catch(() => undefined);
    for (const node of nodes) node.process.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    client.close();
    await etcd.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
