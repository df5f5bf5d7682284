/**
 * The head-end on the three-node cluster (issue 7, benchmarks).
 * 1. End-to-end readings/s from simulated concentrators to written CSV files and published
 *    CIM messages, with every head-end service hosted as a replicated actor (registry, work
 *    manager, jobs manager, workers, devices, TLog managers, integration stream:
 *    actors/hosting/headend-services.json) and this process as the HeadendDriver (field links
 *    and output writers). Real etcd, three real node processes, every partition with three
 *    replicas. Two scenarios, each measured after an unmeasured first step (a day of history
 *    per meter, the device's initial lookback):
 *    - `today`: 40 concentrators x 20 meters, hourly load profiles, for MF_BENCH_SPAN_MS of
 *      wall time; run with the driver as it is and, over the same simulated span, as it was
 *      before issue 7's call cuts (`ackHold: false`: every settle sends every acknowledgement,
 *      each actor's in a call of its own), and with the same machines in this process
 *      (InProcessPorts) to show what hosting costs; optionally with folded rounds
 *      (MF_BENCH_FOLDED=1) and waves (MF_BENCH_WAVES=1);
 *    - `wide`, the national-scale shape: a larger fleet (MF_BENCH_WIDE_CONCENTRATORS) whose
 *      load profiles are collected once a day (MF_BENCH_WIDE_EVERY_MINUTES, 1440: SMMePlus
 *      collects them in daily batches), over one window of simulated time, with the driver as
 *      it is and, over the same span (the same readings), with its stream entries written one
 *      at a time as before session 13 (`streamWritesInFlight: 1`); optionally
 *      (MF_BENCH_WIDE_HOURLY=1) also collected hourly by the driver before issue 7's cuts, and
 *      (MF_BENCH_WIDE_POOL=1) with CSV and CIM encoded in a worker pool, as `meterfabric up`'s
 *      driver does.
 *    Per scenario: readings per actor call, device calls per concentrator per collecting
 *    step, readings/s and the ratio to the replicated-write rate; the target line for the
 *    best. Then where the time went: rounds of commits per simulated hour, per-actor calls
 *    and latency, the nodes' call latency and CPU, the driver's CPU, one actor's serial call
 *    latency, and per service the bytes of the record an actor persists per call (sampled).
 * 2. The runtime's replicated-write rate in the same run (bench/replication.bench.ts's own
 *    code, imported): the head-end figures as a ratio to it, in readings per replicated write.
 * 3. `devices`: device actors per node and the node processes' RSS with 10,000 concentrators'
 *    device actors hosted (each given 20 meters).
 * MF_BENCH_ONLY=today|wide|devices runs one part (with the replicated-write baseline; e.g. to
 * profile: `node --cpu-prof dist/bench/headend-cluster.bench.js`, the nodes with
 * MF_NODE_EXEC_ARGV). Sizes: MF_BENCH_CONCENTRATORS (40) x MF_BENCH_METERS (20) for today's
 * scenario; MF_BENCH_STEP_MINUTES (15): simulated time per settled step;
 * MF_BENCH_CALLS_IN_FLIGHT (64); MF_BENCH_DEVICES (10000) for 3.; MF_BENCH_FORWARD_READINGS=0
 * (devices' readings unpacked and packed again by the driver, as before); MF_BENCH_SPAN_MS (8000):
 * wall time spent stepping (today's scenario runs twice per driver: now, before, before, now).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorProxyPorts, InProcessPorts, type ServicePorts } from '../actors/host/service-ports.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import {
  type BenchCluster,
  launchBenchNodes,
  printDeviceHosting,
  replicatedWriteRate,
  startBenchEtcd,
  stopBenchCluster,
} from './support/headend-cluster-setup.js';
import { printBreakdown, type Span, scrape, serialCallMs, TimedPorts } from './support/headend-probe.js';
import { type BenchRow, printScenarioRows, sumOf, timingOf } from './support/headend-rows.js';
import { driveSpan, originMs, type Scenario, type Variant } from './support/headend-span.js';
import type { Measurement } from './support/report.js';

const parts = ['today', 'wide', 'devices'] as const;
type Part = (typeof parts)[number];
const only = process.env.MF_BENCH_ONLY;
if (only !== undefined && !parts.includes(only as Part))
  throw new Error(`MF_BENCH_ONLY must be one of ${parts.join(', ')} (got "${only}")`);
const runs = (part: Part) => only === undefined || only === part;

const meters = Number(process.env.MF_BENCH_METERS ?? 20);
const stepMs = Number(process.env.MF_BENCH_STEP_MINUTES ?? 15) * 60_000;
const today: Scenario = {
  concentrators: Number(process.env.MF_BENCH_CONCENTRATORS ?? 40),
  meters,
  everyMinutes: 60,
  stepMs,
};
const wide: Scenario = {
  concentrators: Number(process.env.MF_BENCH_WIDE_CONCENTRATORS ?? 400),
  meters,
  everyMinutes: Number(process.env.MF_BENCH_WIDE_EVERY_MINUTES ?? 1440),
  stepMs,
};
const deviceCount = Number(process.env.MF_BENCH_DEVICES ?? 10_000);
const spanWallMs = Number(process.env.MF_BENCH_SPAN_MS ?? 8_000);
const compareWaves = process.env.MF_BENCH_WAVES === '1';
const compareFolded = process.env.MF_BENCH_FOLDED === '1';
const compareWideHourly = process.env.MF_BENCH_WIDE_HOURLY === '1';
const compareWidePool = process.env.MF_BENCH_WIDE_POOL === '1';
const replicationMs = 3_000;
const devicesInFlight = 256;
/** The driver's bound on actor calls in flight (HeadendDriver's default is 64). */
const callsInFlight = Number(process.env.MF_BENCH_CALLS_IN_FLIGHT ?? 64);

type SpanOf = (
  ports: ServicePorts,
  name: string,
  scenario: Scenario,
  stop: Stop,
  variant?: Variant,
) => Promise<Span>;
type Stop = { wallBudgetMs: number } | { endMs: number };
/** The nodes' counters (Prometheus), per node. */
type MetricsNow = () => Promise<Record<string, number>[]>;
/** ...before and after a scenario's first run (the breakdown's CPU and call figures). */
type Metrics = [Record<string, number>[], Record<string, number>[]];
/** A scenario's rows, and its first run with its own timings for the breakdown. */
type ScenarioPart = { rows: BenchRow[]; first: Span; timed: TimedPorts; metrics: Metrics };

/** Today's scenario: now, before, before, now (whichever of two spans ran second was faster). */
async function todayRows(ports: ServicePorts, span: SpanOf, metricsNow: MetricsNow): Promise<ScenarioPart> {
  const timed = new TimedPorts(ports);
  const timedBefore = new TimedPorts(ports);
  const timedBefore2 = new TimedPorts(ports);
  const metricsBefore = await metricsNow();
  const cluster = await span(timed, 'bench', today, { wallBudgetMs: spanWallMs });
  const metrics: Metrics = [metricsBefore, await metricsNow()];
  const sameSpan = { endMs: cluster.endMs };
  const before = sumOf(
    await span(timedBefore, 'before', today, sameSpan, { ackHold: false }),
    await span(timedBefore2, 'before-2', today, sameSpan, { ackHold: false }),
  );
  const timed2 = new TimedPorts(ports);
  const clusterBoth = sumOf(cluster, await span(timed2, 'bench-2', today, sameSpan));
  const rows: BenchRow[] = [
    {
      name: `3 nodes, ${label(today)}, 2 x ${hoursOf(cluster)} h`,
      span: clusterBoth,
      timing: timingOf(timed, timed2),
      scenario: today,
    },
    {
      name: '  same span, driver before the call cuts',
      span: before,
      timing: timingOf(timedBefore, timedBefore2),
      scenario: today,
    },
  ];
  // Options compared on request: folded rounds (HeadendDriver.markStepDone, settle({acks:
  // 'none'})) and waves (ActorLanes): fewer rounds of commits, each with more in it.
  if (compareFolded) {
    const t = new TimedPorts(ports);
    const folded = await span(t, 'folded', today, sameSpan, { folded: true });
    rows.push({ name: '  same span, folded rounds', span: folded, timing: timingOf(t), scenario: today });
  }
  if (compareWaves) {
    const t = new TimedPorts(ports);
    const waves = await span(t, 'waves', today, sameSpan, { waves: true, folded: true });
    rows.push({
      name: '  same span, folded rounds + waves',
      span: waves,
      timing: timingOf(t),
      scenario: today,
    });
  }
  const local = await span(new InProcessPorts(), 'local', today, sameSpan);
  rows.push({
    name: '  same span, same machines in this process',
    span: local,
    timing: undefined,
    scenario: today,
  });
  return { rows, first: cluster, timed, metrics };
}

/**
 * The national-scale shape: one collection window of simulated time (whole windows, so every
 * run collects the same readings), the driver as it is, then (favoured: the run second was
 * faster above) with stream entries written one at a time as before session 13.
 */
async function wideRows(ports: ServicePorts, span: SpanOf, metricsNow: MetricsNow): Promise<ScenarioPart> {
  const wideSpan = { endMs: originMs + wide.stepMs + wide.everyMinutes * 60_000 };
  const timed = new TimedPorts(ports);
  const metricsBefore = await metricsNow();
  const now = await span(timed, 'wide', wide, wideSpan);
  const metrics: Metrics = [metricsBefore, await metricsNow()];
  const timedOneAtATime = new TimedPorts(ports);
  const oneAtATime = await span(timedOneAtATime, 'wide-serial', wide, wideSpan, { streamWritesInFlight: 1 });
  const rows: BenchRow[] = [
    {
      name: `3 nodes, ${label(wide)}, ${hoursOf(now)} h`,
      span: now,
      timing: timingOf(timed),
      scenario: wide,
    },
    {
      name: '  same span, stream entries written one at a time',
      span: oneAtATime,
      timing: timingOf(timedOneAtATime),
      scenario: wide,
    },
  ];
  if (compareWidePool) {
    // As `meterfabric up`'s driver runs (actors/demo/run-day.ts): CSV and CIM encoded in a
    // worker pool. On this 2-core box the workers take CPU from the nodes.
    const pool = new WorkerPool();
    try {
      const t = new TimedPorts(ports);
      const pooled = await span(t, 'wide-pool', wide, wideSpan, { pool });
      rows.push({
        name: '  same span, CSV and CIM encoded in the worker pool',
        span: pooled,
        timing: timingOf(t),
        scenario: wide,
      });
    } finally {
      await pool.close();
    }
  }
  if (compareWideHourly) {
    const t = new TimedPorts(ports);
    const hourly = await span(t, 'wide-hourly', { ...wide, everyMinutes: 60 }, wideSpan, {
      ackHold: false,
      streamWritesInFlight: 1,
    });
    rows.push({
      name: '  same span, every 60 min, driver before the cuts',
      span: hourly,
      timing: timingOf(t),
      scenario: wide,
    });
  }
  return { rows, first: now, timed, metrics };
}

function label(sc: Scenario): string {
  return `${sc.concentrators}x${sc.meters}, load profiles every ${sc.everyMinutes} min`;
}

function hoursOf(sp: Span): number {
  return (sp.endMs - sp.startMs) / 3_600_000;
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'mf-bench-headend-cluster-'));
  let cluster: BenchCluster | undefined;
  try {
    cluster = await startBenchEtcd(base);
    const replicationBefore = await replicatedWriteRate(base, 'before', replicationMs);
    const clusterReadyMs = await launchBenchNodes(cluster);
    const proxy = cluster.proxy!;
    // MF_BENCH_FORWARD_READINGS=0: devices' readings unpacked and packed again by the driver,
    // as before session 16 (forwarded-readings.ts), for a before/after in one build.
    const ports = new ActorProxyPorts(proxy, {
      forwardPackedReadings: process.env.MF_BENCH_FORWARD_READINGS !== '0',
    });
    const span: SpanOf = (ports, name, scenario, stop, variant = {}) =>
      driveSpan(ports, name, join(base, `out-${name}`), scenario, stop, {
        maxConcurrentCalls: callsInFlight,
        ...variant,
      });
    const rows: BenchRow[] = [];
    let breakdown: (ScenarioPart & { title: string }) | undefined;
    const metricsNow = () => Promise.all(cluster!.metricsAddresses.map(scrape));
    if (runs('today') || runs('wide')) {
      // Warm-up, not measured: the first span after the nodes start paid up to twice as much
      // per round as the later ones (JIT, partitions' first writes), whichever driver ran it.
      await span(ports, 'warm', today, { wallBudgetMs: 3_000 });
    }
    for (const [title, measure] of [
      ['today', todayRows],
      ['wide', wideRows],
    ] as const) {
      if (!runs(title)) continue;
      const part = await measure(ports, span, metricsNow);
      rows.push(...part.rows);
      breakdown ??= { ...part, title };
    }
    const serial = breakdown ? await serialCallMs(proxy) : undefined;
    const replicationAfter = await replicatedWriteRate(base, 'after', replicationMs);
    const replication: Measurement = {
      name: 'runtime: replicated writes (replication bench code)',
      ops: replicationBefore.ops + replicationAfter.ops,
      elapsedMs: replicationBefore.elapsedMs + replicationAfter.elapsedMs,
      unit: 'writes/s',
    };
    console.log(
      `cluster ready in ${(clusterReadyMs / 1000).toFixed(1)} s (etcd + 3 nodes, ${cluster.partitions} partitions x 3 replicas); load average at the end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    if (rows.length > 0) printScenarioRows(replication, rows);
    if (breakdown && serial) {
      console.log(`(breakdown of the first ${breakdown.title} run)`);
      printBreakdown(breakdown.first, serial, breakdown.timed, ...breakdown.metrics);
    }
    if (runs('devices')) await printDeviceHosting(cluster, ports, deviceCount, devicesInFlight);
  } finally {
    if (cluster) await stopBenchCluster(cluster);
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
