/**
 * The actor runtime's cost per call, then its memory.
 *
 * 1. Call cost (issue 7): three node processes and etcd, counter actors called through the
 *    ActorProxy (`increment`: one persisted record per call, replicated to three logs). Printed
 *    as ratios to the runtime's raw replicated-write rate measured in the same run by
 *    bench/replication.bench.ts's code (three replicas in three processes): calls/s per
 *    replicated write/s, and node CPU per call (the three nodes' user+system time over the
 *    measured window / calls) per CPU of one replicated write (primary + both secondaries).
 *    Plus one actor called serially: write and read latency.
 * 2. Memory: RSS of a real node process hosting 100,000 idle persistent actors (target < 1 GiB).
 *    One node (replica sets of one) so the figure is the actor host's own cost; each actor is
 *    activated by one call and then left idle. Printed as a ratio to the same node's RSS before
 *    any actor was activated. `MF_BENCH_ACTORS=0` skips it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { ActorProxy } from '../cluster/actors/actor-proxy.js';
import { defaultManifestPaths, loadManifests, partitionIds } from '../cluster/config/manifest.js';
import { startEtcd } from '../cluster/etcd/launcher.js';
import { ConfigStore } from '../cluster/failover/config-store.js';
import { createEtcdClient } from '../cluster/membership/etcd-client.js';
import { type LaunchedNode, launchNode } from '../cluster/node/node-launcher.js';
import { replicated, withReplicaSet } from './replication.bench.js';
import { percentile, printFigure, printRatios, rate } from './support/report.js';
import { launchThreeNodes } from './support/three-nodes.js';

const actorCount = Number(process.env.MF_BENCH_ACTORS ?? 100_000);
const activationConcurrency = 256;
const callsInFlight = Number(process.env.MF_BENCH_CALLS_IN_FLIGHT ?? 64);
const callWindowMs = Number(process.env.MF_BENCH_CALL_MS ?? 8_000);
const services = loadManifests(defaultManifestPaths());
const partitionCount = services.flatMap((s) => partitionIds(s)).length;
const clockTicksPerSecond = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in these

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb * 1024;
}

/** User + system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

function childPids(): number[] {
  const list = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
  return list.length === 0 ? [] : list.split(' ').map(Number);
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
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

async function untilConfigured(client: Etcd3, replicasEach: number): Promise<void> {
  const store = new ConfigStore(client, 'meterfabric');
  const deadline = Date.now() + 120_000;
  for (;;) {
    const all = await store.readAll();
    const ready =
      all.size === partitionCount &&
      [...all.values()].every(
        (v) =>
          v.config.status === 'ok' &&
          v.config.replicas.length === replicasEach &&
          v.config.building.length === 0,
      );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`partitions not configured with ${replicasEach} replicas`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The runtime's raw replicated-write rate and CPU per write (all three processes), this run. */
async function replicatedBaseline(base: string): Promise<{ perSecond: number; cpuMsPerWrite: number }> {
  return withReplicaSet(join(base, 'repl'), async (replicas) => {
    await replicated(replicas, 1_000, null); // warm-up
    const pids = [process.pid, ...childPids()];
    const cpuBefore = pids.map(cpuSeconds);
    const m = await replicated(replicas, 4_000, null);
    const cpu = pids.map(cpuSeconds).reduce((sum, s, i) => sum + s - cpuBefore[i]!, 0);
    return { perSecond: rate(m), cpuMsPerWrite: (cpu * 1000) / m.ops };
  });
}

type Transport = 'unary' | 'stream';
type Phase = { calls: number; elapsedMs: number; nodeCpuS: number[]; callerCpuS: number };

/** `callsInFlight` workers calling their own counter for `durationMs`, with CPU of nodes and caller. */
async function callPhase(
  proxy: ActorProxy,
  nodes: readonly LaunchedNode[],
  prefix: string,
  durationMs: number,
): Promise<Phase> {
  const nodeBefore = nodes.map((n) => cpuSeconds(n.pid));
  const callerBefore = process.cpuUsage();
  let calls = 0;
  const started = performance.now();
  const until = started + durationMs;
  await Promise.all(
    Array.from({ length: callsInFlight }, async (_, w) => {
      while (performance.now() < until) {
        await proxy.call('counter', `${prefix}-${w}`, 'increment', { by: 1 });
        calls++;
      }
    }),
  );
  const caller = process.cpuUsage(callerBefore);
  return {
    calls,
    elapsedMs: performance.now() - started,
    nodeCpuS: nodes.map((n, i) => cpuSeconds(n.pid) - nodeBefore[i]!),
    callerCpuS: (caller.user + caller.system) / 1e6,
  };
}

function addPhases(a: Phase, b: Phase): Phase {
  return {
    calls: a.calls + b.calls,
    elapsedMs: a.elapsedMs + b.elapsedMs,
    nodeCpuS: a.nodeCpuS.map((s, i) => s + b.nodeCpuS[i]!),
    callerCpuS: a.callerCpuS + b.callerCpuS,
  };
}

async function serialLatencies(proxy: ActorProxy, method: string, durationMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    await proxy.call('counter', 'serial', method, method === 'increment' ? { by: 1 } : null);
    latencies.push(performance.now() - t0);
  }
  return latencies.sort((a, b) => a - b);
}

async function callCost(base: string): Promise<void> {
  const loadBefore = loadAverage();
  const baseline = await replicatedBaseline(base);
  const [clientPort, peerPort, ...nodePorts] = await Promise.all(Array.from({ length: 5 }, freePort));
  const etcd = await startEtcd({
    dataDir: join(base, 'etcd3'),
    clientPort: clientPort!,
    peerPort: peerPort!,
  });
  const client = createEtcdClient([etcd.endpoint]);
  const nodes: LaunchedNode[] = [];
  const proxies: Record<Transport, ActorProxy> = {
    unary: new ActorProxy({ client, cluster: 'meterfabric', services, transport: 'unary' }),
    stream: new ActorProxy({ client, cluster: 'meterfabric', services, transport: 'stream' }),
  };
  try {
    await launchThreeNodes({
      base,
      etcd: etcd.endpoint,
      ports: nodePorts,
      into: nodes,
      env: () => ({ MF_LOG_LEVEL: 'warn' }),
    });
    await untilConfigured(client, 3);
    for (const proxy of Object.values(proxies)) await proxy.start();
    // Warm-up: every worker's actor active, JIT warm, both transports connected.
    await callPhase(proxies.unary, nodes, 'c', 750);
    await callPhase(proxies.stream, nodes, 'c', 750);
    // Alternating halves, so a change of the box's load during the run hits both transports.
    const phases: Record<Transport, Phase | null> = { unary: null, stream: null };
    for (let round = 0; round < 2; round++) {
      for (const transport of ['unary', 'stream'] as const) {
        const phase = await callPhase(proxies[transport], nodes, 'c', callWindowMs / 4);
        const sum = phases[transport];
        phases[transport] = sum ? addPhases(sum, phase) : phase;
      }
    }
    const serial = {
      unaryWrites: await serialLatencies(proxies.unary, 'increment', 1_000),
      streamWrites: await serialLatencies(proxies.stream, 'increment', 1_000),
      unaryReads: await serialLatencies(proxies.unary, 'get', 500),
      streamReads: await serialLatencies(proxies.stream, 'get', 500),
    };
    console.log(
      `actor call cost: counter.increment on three nodes, ${callsInFlight} in flight (load average ${loadBefore} -> ${loadAverage()})`,
    );
    const rows = (['unary', 'stream'] as const).map((t) => ({
      name: `actor calls (${t === 'unary' ? 'one CallActor RPC each' : 'CallActors stream'})`,
      ops: phases[t]!.calls,
      elapsedMs: phases[t]!.elapsedMs,
      unit: 'calls/s',
    }));
    printRatios(
      "actor calls vs the runtime's replicated writes (same run)",
      { name: 'replicated writes, 3 replicas', ops: baseline.perSecond, elapsedMs: 1000, unit: 'writes/s' },
      rows,
    );
    printFigure('CPU per replicated write, 3 processes (baseline)', baseline.cpuMsPerWrite, 'ms', 'baseline');
    for (const t of ['unary', 'stream'] as const) {
      const p = phases[t]!;
      const nodeMs = (p.nodeCpuS.reduce((a, b) => a + b, 0) * 1000) / p.calls;
      printFigure(
        `node CPU per actor call (${t}), 3 nodes`,
        nodeMs,
        'ms',
        `${(nodeMs / baseline.cpuMsPerWrite).toFixed(1)}x a replicated write; nodes ${p.nodeCpuS.map((s) => `${((100 * s * 1000) / p.elapsedMs).toFixed(0)}%`).join(' ')} of a core`,
      );
      printFigure(`caller CPU per actor call (${t})`, (p.callerCpuS * 1000) / p.calls, 'ms');
    }
    for (const [name, list] of Object.entries(serial)) {
      printFigure(
        `one actor, serial ${name} p50`,
        percentile(list, 50),
        'ms',
        `p90 ${percentile(list, 90).toFixed(2)} ms`,
      );
    }
  } finally {
    for (const proxy of Object.values(proxies)) await proxy.close();
    // SIGTERM twice: the node exits at once on the second (and writes a --cpu-prof profile).
    for (const node of nodes) node.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const node of nodes) if (node.process.exitCode === null) node.process.kill('SIGTERM');
    await Promise.race([Promise.all(nodes.map((n) => n.exited)), new Promise((r) => setTimeout(r, 10_000))]);
    for (const node of nodes) if (node.process.exitCode === null) node.process.kill('SIGKILL');
    client.close();
    await etcd.stop();
  }
}

async function memory(base: string): Promise<void> {
  const [clientPort, peerPort, nodePort] = [await freePort(), await freePort(), await freePort()];
  const etcd = await startEtcd({ dataDir: join(base, 'etcd'), clientPort, peerPort });
  const node = await launchNode({
    id: 'n1',
    listen: `127.0.0.1:${nodePort}`,
    dataDir: join(base, 'm1'),
    etcd: etcd.endpoint,
    logPath: join(base, 'm1.log'),
    env: { MF_INITIAL_CLUSTER_SIZE: '1', MF_LOG_LEVEL: 'warn' },
    tiedToLauncher: true,
  });
  const client = createEtcdClient([etcd.endpoint]);
  const proxy = new ActorProxy({ client, cluster: 'meterfabric', services });
  try {
    await untilConfigured(client, 1);
    await proxy.start();
    await proxy.call('counter', 'warmup', 'get', null);
    const baseline = rssBytes(node.pid);
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: activationConcurrency }, async () => {
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
  }
}

const base = mkdtempSync(join(tmpdir(), 'mf-bench-actors-'));
try {
  await callCost(base);
  if (actorCount > 0) await memory(base);
} finally {
  rmSync(base, { recursive: true, force: true });
}
process.exit(0);
