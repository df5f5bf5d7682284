/**
 * Replicated write throughput and commit latency with three replicas in three processes
 * (this one hosts the primaries, two children host the secondaries, real gRPC on loopback,
 * real classic-level dirs), against raw classic-level `sync: true` batches of 100 puts
 * measured in the same run. Many writes in flight let the replicator group-commit: one
 * fsync and one stream message carry many operations.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { ClassicLevel } from 'classic-level';
import { freeLoopbackPort as freePort } from '../chaos/nemesis/ports.js';
import type { PartitionConfiguration } from '../cluster/replicator/contract.js';
import { ReplicaHost } from '../cluster/replicator/host.js';
import type { Replica } from '../cluster/replicator/replica.js';
import { standaloneReplicaSpawnPlan } from '../cluster/replicator/standalone-spawn.js';
import { encodeStateOp } from '../cluster/replicator/state-ops.js';
import { type Measurement, measure, percentile, printFigure, printRatios } from './support/report.js';

const PARTITIONS = 4;
const IN_FLIGHT = 1024;
/** The head-end's spread (issue 7): 62 partitions, about one write in flight on each. */
const WIDE_PARTITIONS = 62;
const WIDE_VALUE = new Uint8Array(1024).fill(9);
const DURATION_MS = 8_000;
const VALUE = new Uint8Array(100).fill(7);

async function startHost(
  nodeId: string,
  dataDir: string,
  port: number,
): Promise<{ host: ReplicaHost; server: grpc.Server }> {
  const server = new grpc.Server();
  const host = await ReplicaHost.open({ nodeId, dataDir, server });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return { host, server };
}

/** A secondary node in its own process (cluster/replicator/standalone-main.js). */
function spawnSecondary(nodeId: string, dataDir: string, port: number): Promise<ChildProcess> {
  // Tied to the bench process, as nodes and etcd are: a killed bench leaves no secondary running.
  const plan = standaloneReplicaSpawnPlan([
    '--id',
    nodeId,
    '--listen',
    `127.0.0.1:${port}`,
    '--data',
    dataDir,
  ]);
  const child = spawn(plan.command, plan.args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, MF_LOG_LEVEL: 'warn' },
    detached: plan.detached,
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`secondary ${nodeId} exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().startsWith('ready')) resolve(child);
    });
  });
}

async function rawBaseline(dir: string): Promise<Measurement> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' });
  await db.open();
  let n = 0;
  const m = await measure('raw classic-level batch(100) sync:true', DURATION_MS / 4, 100, () =>
    db.batch(
      Array.from({ length: 100 }, () => ({
        type: 'put' as const,
        key: `k${(n++).toString(16).padStart(12, '0')}`,
        value: VALUE,
      })),
      { sync: true },
    ),
  );
  await db.close();
  return m;
}

export async function replicated(
  replicas: Replica[],
  durationMs: number,
  latencies: number[] | null,
  inFlight = IN_FLIGHT,
  value: Uint8Array = VALUE,
): Promise<Measurement> {
  let ops = 0;
  let n = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async (w: number) => {
    const replica = replicas[w % replicas.length]!;
    while (performance.now() < deadline) {
      const key = `w${w}-${(n++).toString(16)}`;
      const t0 = performance.now();
      await replica.replicate([encodeStateOp({ kind: 'put', key, value })]);
      latencies?.push(performance.now() - t0);
      ops++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  return {
    name: `replicated, 3 replicas, ${replicas.length} partition(s), ${inFlight} in flight`,
    ops,
    elapsedMs: performance.now() - start,
  };
}

/**
 * Three replicas of PARTITIONS partitions (primaries here, secondaries in two child
 * processes) for `fn`, torn down afterwards. Exported with `replicated` so other benchmarks
 * (bench/headend-cluster.bench.ts) measure the runtime's replicated-write rate in their own
 * run with this code rather than a copy.
 */
export async function withReplicaSet<T>(
  base: string,
  fn: (replicas: Replica[], primary: ReplicaHost, secondaryPids: number[]) => Promise<T>,
  partitions = PARTITIONS,
): Promise<T> {
  const children: ChildProcess[] = [];
  let primaryHost: { host: ReplicaHost; server: grpc.Server } | null = null;
  try {
    const [p0, p1, p2] = [await freePort(), await freePort(), await freePort()];
    const addresses: Record<string, string> = {
      p: `127.0.0.1:${p0}`,
      s1: `127.0.0.1:${p1}`,
      s2: `127.0.0.1:${p2}`,
    };
    const configs: PartitionConfiguration[] = Array.from({ length: partitions }, (_, i) => ({
      partition: `bench/${i}`,
      epoch: 1,
      primary: 'p',
      replicas: ['p', 's1', 's2'],
      building: [],
      status: 'ok',
      previousEpochLastLsn: 0,
    }));
    children.push(await spawnSecondary('s1', join(base, 's1'), p1!));
    children.push(await spawnSecondary('s2', join(base, 's2'), p2!));
    primaryHost = await startHost('p', join(base, 'p'), p0!);
    const replicas: Replica[] = [];
    for (const config of configs) {
      const replica = await primaryHost.host.replica(config.partition);
      await replica.becomePrimary(config, (node) => addresses[node]);
      replicas.push(replica);
    }
    return await fn(
      replicas,
      primaryHost.host,
      children.map((c) => c.pid ?? 0),
    );
  } finally {
    for (const child of children) child.stdin?.end();
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (child.exitCode !== null) resolve();
          }),
      ),
    );
    if (primaryHost) {
      primaryHost.server.forceShutdown();
      await primaryHost.host.close();
    }
  }
}

/** User + system CPU of a process so far, in ms (Linux /proc; clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU per replicated write with the head-end's spread: one writer per partition on 62
 * partitions (so writes of many partitions meet in each fsync and each tick, as actor calls
 * do), 1 KiB values. Per process: the primary (this one, replication only) and each secondary.
 */
async function wideCpuPerWrite(
  base: string,
): Promise<{ m: Measurement; primaryUs: number; secondaryUs: number[] }> {
  return withReplicaSet(
    join(base, 'wide'),
    async (replicas, _host, secondaryPids) => {
      await replicated(replicas, 1_000, null, WIDE_PARTITIONS, WIDE_VALUE);
      const cpu0 = process.cpuUsage();
      const sec0 = secondaryPids.map(processCpuMs);
      const m = await replicated(replicas, DURATION_MS / 2, null, WIDE_PARTITIONS, WIDE_VALUE);
      const cpu = process.cpuUsage(cpu0);
      const sec = secondaryPids.map((pid, i) => processCpuMs(pid) - sec0[i]!);
      return {
        m,
        primaryUs: (cpu.user + cpu.system) / m.ops,
        secondaryUs: sec.map((ms) => (ms * 1000) / m.ops),
      };
    },
    WIDE_PARTITIONS,
  );
}

/** `MF_BENCH_ONLY=wide`: only the head-end-spread CPU figures (quick before/after pairs). */
async function wideOnly(base: string): Promise<void> {
  const wide = await wideCpuPerWrite(base);
  printFigure(`${wide.m.name}`, (wide.m.ops * 1000) / wide.m.elapsedMs, 'writes/s');
  printWideCpu(wide);
}

function printWideCpu(wide: { primaryUs: number; secondaryUs: number[] }): void {
  const name = `${WIDE_PARTITIONS} partitions, 1 KiB values, ${WIDE_PARTITIONS} in flight`;
  printFigure(`${name}: primary CPU per write`, wide.primaryUs, 'us');
  for (const [i, us] of wide.secondaryUs.entries()) {
    printFigure(`${name}: secondary ${i + 1} CPU per write`, us, 'us');
  }
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'mf-bench-repl-'));
  try {
    if (process.env.MF_BENCH_ONLY === 'wide') {
      await wideOnly(base);
      return;
    }
    const before = await rawBaseline(join(base, 'raw-before'));
    const figures = await withReplicaSet(base, async (replicas, host) => {
      await replicated(replicas, 1_000, null); // warm-up: streams connected, JIT warm
      const batchesBefore = host.writer.batches;
      const opsBefore = host.writer.opsWritten;
      const latencies: number[] = [];
      const result = await replicated(replicas, DURATION_MS, latencies);
      const batches = host.writer.batches - batchesBefore;
      const opsPerFsync = (host.writer.opsWritten - opsBefore) / Math.max(1, batches);
      const onePartition = await replicated(replicas.slice(0, 1), DURATION_MS / 2, null);
      const singleLatencies: number[] = [];
      const single = await replicated(replicas.slice(0, 1), DURATION_MS / 4, singleLatencies, 1);
      return { latencies, result, opsPerFsync, onePartition, singleLatencies, single };
    });
    const { latencies, result, opsPerFsync, onePartition, singleLatencies, single } = figures;
    const wide = await wideCpuPerWrite(base);
    // The box is shared: measure the baseline before and after and use both, so a load
    // change during the run shifts baseline and subject alike.
    const after = await rawBaseline(join(base, 'raw-after'));
    const baseline: Measurement = {
      name: before.name,
      ops: before.ops + after.ops,
      elapsedMs: before.elapsedMs + after.elapsedMs,
    };
    latencies.sort((x, y) => x - y);
    singleLatencies.sort((x, y) => x - y);
    printRatios('replicated writes vs raw classic-level sync batches (same run)', baseline, [
      result,
      onePartition,
      single,
      wide.m,
    ]);
    printFigure(`commit latency p50, ${IN_FLIGHT} in flight`, percentile(latencies, 50), 'ms');
    printFigure(`commit latency p99, ${IN_FLIGHT} in flight`, percentile(latencies, 99), 'ms');
    printFigure('commit latency p50, 1 in flight', percentile(singleLatencies, 50), 'ms');
    printFigure('commit latency p99, 1 in flight', percentile(singleLatencies, 99), 'ms');
    printFigure(`primary: operations per fsync, ${IN_FLIGHT} in flight`, opsPerFsync, 'ops');
    printWideCpu(wide);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

// Run only as a benchmark of its own, not when another benchmark imports its helpers.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
