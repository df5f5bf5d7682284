/**
 * Head-end benchmarks.
 * 1. End-to-end readings/s: a simulated fleet's day through the in-process head-end (work
 *    manager -> jobs manager -> workers -> device logic -> simulated concentrators -> TLog ->
 *    daily CSV files + CIM messages on disk), against a baseline that only writes the same
 *    kind of values straight into the CSV writer and the CIM encoder (no head-end at all).
 *    Target (issue 7): 100,000 readings/s; national average need is about 8,300/s.
 *    The same through the three-node cluster, with the ratio to the runtime's replicated-write
 *    rate: bench/headend-cluster.bench.ts.
 * 2. Device actors: heap bytes per device state and RSS with 10,000 concentrators x 20 meters.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advanceCursor, newDevice } from '../actors/device/state.js';
import { LocalHeadend } from '../actors/host/local-headend.js';
import { IntegrationConsumer } from '../actors/integration/integration.js';
import {
  applyJobsManagerCommand,
  defaultJobsManagerConfig,
  newJobsManager,
  queuedCount,
} from '../actors/jobs-manager/state.js';
import { applyWorkManagerCommand, newWorkManager } from '../actors/work-manager/schedule.js';
import { encodeMeterReadings } from '../adapters/cim/meter-readings.js';
import { DailyCsvWriter } from '../adapters/csv/daily-writer.js';
import { loadProfileRows } from '../adapters/csv/rows.js';
import type { CollectedReading } from '../adapters/field-data.js';
import { ManualClock } from '../core/clock.js';
import { benchFleet, hourMs, originMs } from './support/headend-span.js';
import { type Measurement, printFigure, printRatios } from './support/report.js';

async function pipelineDay(concentrators: number, meters: number): Promise<Measurement> {
  const outDir = await mkdtemp(join(tmpdir(), 'mf-bench-headend-'));
  try {
    const clock = new ManualClock(originMs);
    const fleet = benchFleet(concentrators, meters, clock);
    let integration: IntegrationConsumer | undefined;
    let values = 0;
    const headend = new LocalHeadend({
      clock,
      fieldLink: (id) => fleet.concentrator(id),
      sink: (batch) => {
        for (const r of batch) if (r.record.type === 'reading') values++;
        return integration?.sink(batch);
      },
    });
    integration = await IntegrationConsumer.open({
      outDir,
      organization: 'BENCH',
      server: 'n1',
      clock,
      registry: headend.registry,
    });
    for (const command of fleet.provisioning()) headend.applyRegistry(command);
    await headend.settle();
    await integration.flush();
    values = 0;
    const start = performance.now();
    for (let t = originMs; t <= originMs + 24 * hourMs + 10 * 60_000; t += 5 * 60_000) {
      clock.set(t);
      headend.tick();
      await headend.settle();
    }
    await integration.flush();
    return {
      name: `head-end day, ${concentrators}x${meters} meters -> CSV + CIM`,
      ops: values,
      elapsedMs: performance.now() - start,
      unit: 'readings/s',
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

async function baselineWrites(count: number): Promise<Measurement> {
  const outDir = await mkdtemp(join(tmpdir(), 'mf-bench-headend-base-'));
  try {
    const writer = await DailyCsvWriter.open({ dir: outDir, kind: 'S', server: 'n1' });
    const batch = 480; // about one load-profile job's worth (20 meters x 24 h)
    const start = performance.now();
    let seq = 0;
    for (let done = 0; done < count; done += batch) {
      const readings: CollectedReading[] = Array.from({ length: batch }, (_, i) => ({
        meterSerial: `M${(done + i) % 1000}`,
        usagePoint: `P${(done + i) % 1000}`,
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: i % 700,
        unit: 'Wh',
        timestampMs: originMs + ((done + i) % 24) * hourMs,
        intervalSeconds: 3600,
      }));
      await writer.append(loadProfileRows(readings), { seq: seq++, collectedAtMs: originMs });
      encodeMeterReadings(readings, { messageId: `m${seq}` });
    }
    return {
      name: 'baseline: same values straight to CSV writer + CIM encoder',
      ops: count,
      elapsedMs: performance.now() - start,
      unit: 'readings/s',
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

function deviceFootprint(concentrators: number, meters: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const devices = [];
  for (let c = 0; c < concentrators; c++) {
    const serials = Array.from(
      { length: meters },
      (_, m) => `UAAEEDN${String(c * meters + m).padStart(11, '0')}`,
    );
    const device = newDevice(`TD-${c}`, serials);
    for (const s of serials) {
      advanceCursor(device, s, 'loadProfile', originMs + 23 * hourMs);
      advanceCursor(device, s, 'dailyClosure', originMs);
      advanceCursor(device, s, 'instantaneous', originMs + 5 * hourMs);
    }
    devices.push(device);
  }
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  console.log(
    `device actor state, ${concentrators.toLocaleString('en-US')} concentrators x ${meters} meters (one node)`,
  );
  printFigure('heap per device state', (heapAfter - heapBefore) / devices.length, 'bytes');
  printFigure('heap for all device states', (heapAfter - heapBefore) / 1024 / 1024, 'MiB');
  printFigure('process RSS with them', process.memoryUsage().rss / 1024 / 1024, 'MiB');
}

/**
 * A bulk import's commissioning: every meter through the work manager (batched per
 * concentrator) and the jobs it makes into the jobs manager's queue. Per meter this was
 * concentrators x meters jobs (200,000 for 10,000 x 20: the whole queue cap).
 */
function initializationQueue(concentrators: number, meters: number): Measurement {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = performance.now();
  const wm = newWorkManager();
  const jm = newJobsManager();
  const submit = (effects: ReturnType<typeof applyWorkManagerCommand>['effects']) => {
    for (const e of effects) applyJobsManagerCommand(jm, { type: 'submit', job: e.job }, originMs);
  };
  for (let c = 0; c < concentrators; c++)
    for (let m = 0; m < meters; m++)
      submit(
        applyWorkManagerCommand(
          wm,
          {
            type: 'meterCommissioned',
            meterSerial: `UAAEEDN${String(c * meters + m).padStart(11, '0')}`,
            concentratorId: `TD-${c}`,
            atMs: originMs,
          },
          originMs,
        ).effects,
      );
  submit(applyWorkManagerCommand(wm, { type: 'tick' }, originMs).effects);
  const elapsedMs = performance.now() - start;
  gc?.();
  const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
  console.log(
    `initialization of a bulk import, ${concentrators.toLocaleString('en-US')} concentrators x ${meters} meters`,
  );
  printFigure(
    'initialization jobs queued',
    queuedCount(jm),
    'jobs',
    `cap ${defaultJobsManagerConfig.maxQueuedJobs}`,
  );
  printFigure('jobs one per meter would have needed', concentrators * meters, 'jobs');
  printFigure('heap of work manager + jobs manager state', heapMiB, 'MiB');
  return {
    name: 'bulk commissioning -> queued init jobs',
    ops: concentrators * meters,
    elapsedMs,
    unit: 'meters/s',
  };
}

// Two fleet sizes: per-reading costs show in both, costs that grow with the fleet (scans of
// every job, meter or outcome per command) show as the larger fleet's lower rate.
// The box is shared: the baseline runs before and after the subjects and counts both, so a
// load change during the run shifts baseline and subjects alike.
const before = await baselineWrites(20_000);
const small = await pipelineDay(50, 20);
const large = await pipelineDay(200, 20);
const initialization = initializationQueue(10_000, 20);
const after = await baselineWrites(20_000);
const baseline: Measurement = {
  ...before,
  ops: before.ops + after.ops,
  elapsedMs: before.elapsedMs + after.elapsedMs,
};
printRatios(
  'end-to-end readings, simulated concentrators -> CSV + CIM files (in-process head-end)',
  baseline,
  [small, large],
);
printRatios('initialization on a bulk import (pure work manager + jobs manager)', baseline, [initialization]);
deviceFootprint(10_000, 20);
