import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { ManualClock } from '../../core/clock.js';
import type { ServicePorts } from '../host/service-ports.js';
import { type IntegrationBridgeSettings, serveIntegration } from '../integration/bridge/serve.js';
import type { WebhookSubscriberConfig } from '../integration/webhook-config.js';
import { WebhookDispatcher } from '../integration/webhook-dispatcher.js';
import { SimulatedFleet } from '../simulation/fleet.js';
import type { RoutedRecord } from '../tlog/router.js';
import { defaultMinTickIntervalMs } from '../work-manager/day-clock.js';
import { driverEngine, localEngine } from './day-engines.js';

/**
 * The demo day (`npm start`'s head-end part): a simulated fleet runs one day on a simulated
 * clock (1440x: a day in about a minute) through the head-end, writing the SMMePlus CSV files
 * and CIM messages under `outDir`, with progress lines and a closing summary. The head-end
 * runs in this process (actors/host/local-headend.ts), or, given `services`, behind
 * ServicePorts (the cluster's actors) with this process as the driver holding the field links
 * and writing the files (actors/host/headend-driver.ts).
 */

export type DemoOptions = {
  outDir: string;
  concentrators: number;
  metersPerConcentrator: number;
  /** KNX gateway sites (KNXnet/IP simulators on loopback UDP); default 2. */
  knxSites?: number;
  /** Battery sites (GTX2500 simulators behind CANET gateways on loopback TCP); default 2. */
  batterySites?: number;
  /** Simulated ms per host ms. */
  speed: number;
  /**
   * The work manager's load profile collection period, minutes dividing 1440 (default 60):
   * a job reads everything since each meter's last collected value, so 360 collects six
   * hours of intervals in one job (SMMePlus collects in batches).
   */
  loadProfileEveryMinutes?: number;
  /** Simulated start (UTC midnight); default: yesterday. */
  dayStartMs?: number;
  seed?: number;
  progress?: (line: string) => void;
  /** Stops early (Ctrl-C): the summary covers what ran. */
  signal?: AbortSignal;
  /** Serve the CIM bridge (HTTP `/cim`) and the gRPC API while the day runs (serveIntegration). */
  bridges?: IntegrationBridgeSettings;
  /** Push the CIM messages to these webhook receivers (queues under `<outDir>/.webhook-state`). */
  webhooks?: readonly WebhookSubscriberConfig[];
  /** Registry of this process's metrics endpoint: meterfabric_webhook_* and meterfabric_subscribe_events_* go there. */
  metrics?: Registry;
  /**
   * Run every service behind these ports (the cluster), under this head-end name; `resume`
   * continues that head-end's day from the last step the cluster recorded (a restarted driver).
   */
  services?: { ports: ServicePorts; name: string; resume?: boolean; dayClock?: boolean };
};

/** How often a driver following the work manager's day clock looks at its outbox when idle. */
const followPollMs = 50;

export type DemoSummary = {
  rowsByFileKind: Record<string, number>;
  messagesByNoun: Record<string, number>;
  readings: number;
  /** Interval values collected more than one collection period after their interval ended (recovered gaps). */
  gapsRecovered: number;
  /** The load profile collection period the day ran with. */
  loadProfileEveryMinutes: number;
  events: Record<string, number>;
  concentratorOutages: number;
  jobs: { succeeded: number; failed: number };
  elapsedMs: number;
  reports: string[];
};

const hourMs = 3_600_000;

export async function runDemoDay(options: DemoOptions): Promise<DemoSummary> {
  const startedAt = Date.now();
  const dayStartMs = options.dayStartMs ?? Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
  const endMs = dayStartMs + 24 * hourMs + 15 * 60_000;
  // Simulated time advances in steps, each only after the previous step's work is done, and
  // no faster than `speed`: a slow disk makes the day longer, never skips or fails work.
  const clock = new ManualClock(dayStartMs);
  const hostStartMs = Date.now();
  const log = options.progress ?? ((line: string) => process.stdout.write(`${line}\n`));
  // A resumed day keeps what the killed run wrote: its writers skip what is already there.
  if (!options.services?.resume) await rm(options.outDir, { recursive: true, force: true });
  const fleet = new SimulatedFleet({
    concentrators: options.concentrators,
    metersPerConcentrator: options.metersPerConcentrator,
    seed: options.seed ?? 1,
    originMs: dayStartMs,
    clock,
    timeZones: ['UTC', 'Europe/Rome', 'Europe/Madrid'],
    outageChance: 0.05,
    outageFromMs: dayStartMs + 2 * hourMs,
    outageToMs: dayStartMs + 20 * hourMs,
    iec62056Every: 10,
    knxSites: options.knxSites ?? 2,
    batterySites: options.batterySites ?? 2,
  });
  // The KNX and battery sites hold sockets: close them as soon as the day's work is done
  // (before the webhook drain), and on the error path too.
  let fleetStopped: Promise<void> | undefined;
  const stopFleet = () => {
    fleetStopped ??= fleet.stop();
    return fleetStopped;
  };
  // What the day opens (webhook dispatcher, bridges) is closed on the error path too: a failed
  // day must not leave timers, sockets or the webhook store's lock behind.
  const closers: (() => Promise<void>)[] = [];
  const closeOnExit = (close: () => Promise<void>): (() => Promise<void>) => {
    let closing: Promise<void> | undefined;
    const once = () => {
      closing ??= close();
      return closing;
    };
    closers.push(once);
    return once;
  };
  try {
    return await runWithFleet({
      options,
      fleet,
      stopFleet,
      closeOnExit,
      clock,
      dayStartMs,
      endMs,
      startedAt,
      hostStartMs,
      log,
    });
  } finally {
    for (const close of closers.reverse())
      await close().catch((err: unknown) => log(`closing after the day failed: ${String(err)}`));
    await stopFleet();
  }
}

type DayContext = {
  options: DemoOptions;
  fleet: SimulatedFleet;
  stopFleet: () => Promise<void>;
  /** Registers a close for the error path; returns it, made idempotent, for the normal path. */
  closeOnExit: (close: () => Promise<void>) => () => Promise<void>;
  clock: ManualClock;
  dayStartMs: number;
  endMs: number;
  startedAt: number;
  hostStartMs: number;
  log: (line: string) => void;
};

async function runWithFleet(day: DayContext): Promise<DemoSummary> {
  const { options, fleet, clock, dayStartMs, endMs, startedAt, log } = day;
  let hostStartMs = day.hostStartMs;
  const counts = { readings: 0, gaps: 0, events: {} as Record<string, number> };
  // Late means later than the collection period makes any value wait (an hour by default).
  const lateMs = (options.loadProfileEveryMinutes ?? 60) * 60_000;
  const onWritten = (batch: readonly RoutedRecord[]) => {
    for (const { record } of batch) {
      if (record.type === 'reading') {
        counts.readings++;
        if (record.reading.kind === 'interval' && record.collectedAtMs - record.reading.timestampMs > lateMs)
          counts.gaps++;
      } else if (record.type === 'event') {
        const key = `${record.event.key}${record.event.phase === 'cleared' ? ' (cleared)' : ''}`;
        counts.events[key] = (counts.events[key] ?? 0) + 1;
      }
    }
  };
  const engineOptions = {
    outDir: options.outDir,
    clock,
    fleet,
    onWritten,
    ...(options.loadProfileEveryMinutes !== undefined
      ? { loadProfileEveryMinutes: options.loadProfileEveryMinutes }
      : {}),
  };
  // On the cluster this process hosts the integration outputs: one worker pool for their
  // encoding (MF_POOL_MODE=inline keeps it on the main thread), closed on every path.
  const pool = options.services
    ? new WorkerPool({ mode: process.env.MF_POOL_MODE === 'inline' ? 'inline' : 'workers' })
    : undefined;
  if (pool) day.closeOnExit(() => pool.close());
  const engine = options.services
    ? await driverEngine({ ...engineOptions, ...options.services, ...(pool ? { pool } : {}) })
    : await localEngine(engineOptions);
  const webhook = options.webhooks
    ? await WebhookDispatcher.start(engine.cim, {
        subscribers: options.webhooks,
        stateDir: join(options.outDir, '.webhook-state'),
        ...(options.metrics ? { metrics: options.metrics } : {}),
      })
    : undefined;
  const closeWebhook = webhook ? day.closeOnExit(() => webhook.close()) : undefined;
  engine.attachWebhook(webhook);
  // The bridges only: the webhook dispatcher above also runs without them, and closes after
  // the day's last messages drained, where the bridges close before the day's end is written.
  const bridges = options.bridges
    ? await serveIntegration(engine.api, engine.cim, {
        ...options.bridges,
        clock,
        source: 'meterfabric-demo',
        onDemandTimeoutMs: 30_000,
        controlTimeoutMs: 15 * 60_000,
        ...(options.metrics ? { metrics: options.metrics } : {}),
      })
    : undefined;
  const closeBridges = bridges ? day.closeOnExit(() => bridges.close()) : undefined;
  if (bridges)
    log(
      `CIM bridge ${bridges.http.url}, gRPC ${options.bridges?.host}:${bridges.grpc.port} (with reflection)`,
    );
  // Resuming: the registry, schedules, outboxes and stream are on the cluster already.
  const lastStepMs = options.services?.resume ? await engine.lastStep() : undefined;
  if (lastStepMs !== undefined) clock.set(lastStepMs); // replayed deliveries happen at that instant
  const resumedAfterMs = lastStepMs === undefined ? undefined : await engine.resume();
  if (resumedAfterMs === undefined) {
    log(`provisioning ${options.concentrators} concentrators x ${options.metersPerConcentrator} meters`);
    await engine.provision(fleet.provisioning());
  } else log(`resumed after ${new Date(resumedAfterMs).toISOString().slice(0, 16)}Z from the cluster`);
  const firstStepMs = resumedAfterMs === undefined ? dayStartMs : resumedAfterMs + 5 * 60_000;
  hostStartMs -= (firstStepMs - dayStartMs) / options.speed;
  let nextReportMs = Math.floor(firstStepMs / hourMs) * hourMs + hourMs;
  // One line per hour boundary crossed (once, if a driver catching up crosses several at once).
  const report = () => {
    if (clock.now() < nextReportMs) return;
    const down = fleet.concentrators.filter((c) => c.unreachableAt(clock.now())).length;
    log(
      `${new Date(clock.now()).toISOString().slice(0, 16)}Z  readings ${counts.readings.toLocaleString('en-US')}  ` +
        `jobs ${engine.jobsFinished()}  concentrators unreachable ${down}`,
    );
    nextReportMs = Math.floor(clock.now() / hourMs) * hourMs + hourMs;
  };
  if (engine.follow && engine.startDayClock) {
    // The work manager's durable reminders run the day on the cluster at `speed` (its day
    // clock is replicated state); this process only delivers what they produced, each at the
    // instant it was decided at. A resumed day's clock is on the cluster already.
    if (resumedAfterMs === undefined)
      await engine.startDayClock({
        simAtMs: dayStartMs,
        wallAtMs: Date.now(),
        rate: options.speed,
        minIntervalMs: defaultMinTickIntervalMs,
        untilSimMs: endMs,
      });
    while (clock.now() < endMs && !options.signal?.aborted) {
      const moved = await engine.follow((t) => {
        clock.set(t);
        report();
      });
      if (!moved) await new Promise((r) => setTimeout(r, followPollMs));
    }
  } else {
    const stepMs = 5 * 60_000;
    for (let t = firstStepMs; t <= endMs && !options.signal?.aborted; t += stepMs) {
      const delay = hostStartMs + (t - dayStartMs) / options.speed - Date.now();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      clock.set(t);
      await engine.step(t);
      report();
    }
  }
  await closeBridges?.();
  const finished = await engine.finish(Math.min(clock.now(), endMs));
  await day.stopFleet();
  if (webhook) {
    // Give receivers a moment to take the day's last messages; what is left stays queued.
    const drainUntil = Date.now() + 10_000;
    while (webhook.status().some((s) => s.queued > 0) && Date.now() < drainUntil)
      await new Promise((r) => setTimeout(r, 100));
    for (const s of webhook.status())
      log(
        `webhook ${s.name}: delivered ${s.delivered}, queued ${s.queued}, failed attempts ${s.failedAttempts}`,
      );
    await closeWebhook?.();
  }
  return {
    rowsByFileKind: finished.rowsByFileKind,
    messagesByNoun: finished.messagesByNoun,
    readings: counts.readings,
    gapsRecovered: counts.gaps,
    loadProfileEveryMinutes: options.loadProfileEveryMinutes ?? 60,
    events: counts.events,
    concentratorOutages: fleet.outages().length,
    jobs: finished.jobs,
    elapsedMs: Date.now() - startedAt,
    reports: finished.reports,
  };
}

/** `k v, k v` sorted by key: the counts fill in as concurrent writers finish, so insertion order is not stable. */
function formatCounts(counts: Readonly<Record<string, number>>): string {
  return (
    Object.entries(counts)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none'
  );
}

export function formatSummary(s: DemoSummary): string {
  const lines = [
    'summary',
    `  rows per file kind:   ${formatCounts(s.rowsByFileKind)}`,
    `  messages per noun:    ${formatCounts(s.messagesByNoun)}`,
    `  readings delivered:   ${s.readings}`,
    `  gaps recovered:       ${s.gapsRecovered} interval values collected more than ${s.loadProfileEveryMinutes} min late (${s.concentratorOutages} concentrator outages)`,
    `  events:               ${formatCounts(s.events)}`,
    `  jobs:                 ${s.jobs.succeeded} succeeded, ${s.jobs.failed} failed`,
    `  elapsed:              ${(s.elapsedMs / 1000).toFixed(1)} s`,
  ];
  return lines.join('\n');
}
