/**
 * The cim-csv bench's probes of where pool time goes: the phases of the pool path timed alone
 * (packing, unpacking, UTF-8), how evenly a step's tasks spread over the workers, and the
 * machine's ceiling (an empty task's round trip; workers encoding with nothing to copy).
 */
import { defaultReadingsPerTask, type MeterReadingsMessageJob } from '../../adapters/cim/columnar-pool.js';
import { checkReadingColumns, packReadings } from '../../adapters/cim/columnar-readings.js';
import { encodeMeterReadingsBytes } from '../../adapters/cim/meter-readings.js';
import { encodeMeterReadingsRepeatedly } from '../../adapters/cim/pool-tasks.js';
import { type CsvRow, encodeCsvRows } from '../../adapters/csv/codec.js';
import { encodeRowColumnsBytes } from '../../adapters/csv/columnar-cells.js';
import { checkRowColumns, packRows } from '../../adapters/csv/columnar-rows.js';
import type { WorkerPool } from '../../cluster/pool/pool.js';
import { groupStarts, taskCountFor } from '../../cluster/pool/task-plan.js';
import { clockOf, DAY_MS } from './cim-csv-data.js';
import { cpuPer1000, interleaved, printCpu } from './cim-csv-measure.js';
import { printFigure, printRatios, rate } from './report.js';

const utf8 = new TextEncoder();

/** The message groups encodeMeterReadingsInPool makes, so every pool row pays the same number of tasks. */
export function messageGroups(jobs: readonly MeterReadingsMessageJob[], threads: number): [number, number][] {
  const weights = jobs.map((j) => j.readings.length);
  const total = weights.reduce((a, b) => a + b, 0);
  const starts = groupStarts(weights, Math.max(1, taskCountFor(total, threads, defaultReadingsPerTask)));
  return starts.map((start, g) => [start, starts[g + 1] ?? jobs.length]);
}

/**
 * Where the pool's extra CPU goes, phase by phase, each timed alone on the main thread: what
 * the pool path does beyond the encode itself (packing on the caller's thread; unpacking and
 * UTF-8 conversion in the worker), as a share of the encode.
 */
export function phases(
  jobs: readonly MeterReadingsMessageJob[],
  rows: readonly CsvRow[],
  chunkRows: number,
): void {
  const phaseMs = 400;
  const readings = jobs.reduce((n, j) => n + j.readings.length, 0);
  const packed = jobs.map((j) => packReadings(j.readings));
  const cim = {
    encode: cpuPer1000(readings, phaseMs * 2, () => {
      for (const j of jobs) encodeMeterReadingsBytes(j.readings, { ...j.options, clock: clockOf(DAY_MS) });
    }),
    pack: cpuPer1000(readings, phaseMs, () => {
      for (const j of jobs) packReadings(j.readings);
    }),
    unpack: cpuPer1000(readings, phaseMs, () => {
      for (const c of packed) checkReadingColumns(c);
    }),
    // The CIM encoder writes bytes directly: nothing to convert.
    utf8: 0,
  };
  const chunks: CsvRow[][] = [];
  for (let i = 0; i < rows.length; i += chunkRows) chunks.push(rows.slice(i, i + chunkRows));
  const packedRows = chunks.map((c) => packRows('S', c));
  const csv = {
    encode: cpuPer1000(rows.length, phaseMs * 2, () => {
      for (const c of chunks) utf8.encode(encodeCsvRows('S', c));
    }),
    pack: cpuPer1000(rows.length, phaseMs, () => {
      for (const c of chunks) packRows('S', c);
    }),
    // The worker builds csv-stringify's cells from the columns (columnar-cells.ts): no rows to
    // unpack, only the cells' tags and string indexes to check.
    unpack: cpuPer1000(rows.length, phaseMs, () => {
      for (const p of packedRows) if ('columns' in p) checkRowColumns(p.columns);
    }),
    utf8: 0,
    worker: cpuPer1000(rows.length, phaseMs * 2, () => {
      for (const p of packedRows) if ('columns' in p) encodeRowColumnsBytes(p.columns);
    }),
  };
  csv.utf8 =
    csv.encode -
    cpuPer1000(rows.length, phaseMs * 2, () => {
      for (const c of chunks) encodeCsvRows('S', c);
    });
  console.log('\nPhases of the pool path, CPU ms per 1000 items, each timed alone on the main thread');
  for (const [name, p] of [
    ['CIM', cim],
    ['CSV', csv],
  ] as const) {
    printFigure(`${name} encode to UTF-8 bytes (the work both sides do)`, p.encode, 'ms');
    printFigure(`${name} pack into columns (caller's thread)`, p.pack, 'ms', pct(p.pack, p.encode));
    printFigure(`${name} check the columns in the worker`, p.unpack, 'ms', pct(p.unpack, p.encode));
    printFigure(`${name}   of which text -> bytes (flatten, UTF-8)`, p.utf8, 'ms', pct(p.utf8, p.encode));
  }
  printFigure(
    "CSV the worker's encode: columns -> cells -> bytes",
    csv.worker,
    'ms',
    `${pct(csv.worker, csv.encode)} (the main thread's: rows -> cells -> bytes)`,
  );
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}% of the encode`;

type Probe = { threadId: number; startedAtMs: number; busyMs: number; bytes: number };

/**
 * How evenly the workers share a step: one task per message against the grouping the pool
 * uses. Each step's tasks are counted per worker ("4/4": four on each) and the workers' busy
 * time is set against threads x the step's wall time. With many small tasks piscina hands the
 * next one to whichever worker frees first, so a step often splits 3/5 or 2/6 and one worker
 * idles at its end: wall-clock the CPU figures above do not show.
 */
export async function balance(
  pool: WorkerPool,
  jobs: MeterReadingsMessageJob[],
  threads: number,
): Promise<void> {
  console.log('\nWorker balance per step (CIM, 24 steps each)');
  const perMessage: [number, number][] = jobs.map((_, i) => [i, i + 1]);
  for (const [label, groups] of [
    ['one task per message', perMessage],
    ['grouped as the pool does', messageGroups(jobs, threads)],
  ] as const) {
    const splits = new Map<string, number>();
    let busyMs = 0;
    let wallMs = 0;
    let dispatchMs = 0;
    let tailMs = 0;
    let tasks = 0;
    const now = () => performance.timeOrigin + performance.now();
    for (let step = 0; step < 24; step++) {
      const t0 = performance.now();
      const postedAt: number[] = [];
      const probes = await pool.runPipelined<Probe>(groups.length, (g) => {
        const [start, end] = groups[g]!;
        const payload = jobs
          .slice(start, end)
          .map((job) => ({ columns: packReadings(job.readings), options: job.options }));
        postedAt[g] = now();
        return { module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsColumnarProbe', payload };
      });
      const stepEnd = now();
      wallMs += performance.now() - t0;
      const perWorker = new Map<number, number>();
      let lastEnd = 0;
      for (const [g, p] of probes.entries()) {
        perWorker.set(p.threadId, (perWorker.get(p.threadId) ?? 0) + 1);
        busyMs += p.busyMs;
        dispatchMs += p.startedAtMs - postedAt[g]!;
        lastEnd = Math.max(lastEnd, p.startedAtMs + p.busyMs);
        tasks++;
      }
      tailMs += stepEnd - lastEnd;
      const counts = [...perWorker.values()];
      while (counts.length < threads) counts.push(0);
      const key = counts.sort((a, b) => a - b).join('/');
      splits.set(key, (splits.get(key) ?? 0) + 1);
    }
    const shown = [...splits]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, n]) => `${k} x${n}`)
      .join(', ');
    printFigure(`${label}: workers busy`, (100 * busyMs) / (threads * wallMs), '%', `splits: ${shown}`);
    printFigure('  task encode time', busyMs / tasks, 'ms', `${tasks / 24} tasks per step`);
    printFigure(
      '  posted -> started in a worker',
      dispatchMs / tasks,
      'ms',
      'waiting for a worker and a core',
    );
    printFigure(
      '  last task done -> caller resumes',
      tailMs / 24,
      'ms',
      'the result back to the main thread',
    );
  }
}

/**
 * What the machine allows right now, with no packing or transfer in the way: workers encoding
 * tasks of the pool's size (`repeat` x one message) against the main thread doing the same,
 * once as steps of one task per worker (each step waits for its slowest task) and once as a
 * stream of 4 tasks per worker per step (a worker that finishes takes the next queued task).
 */
export async function ceiling(
  pool: WorkerPool,
  job: MeterReadingsMessageJob,
  threads: number,
  durationMs: number,
): Promise<void> {
  const emptyTasks = 64;
  const noop = { module: 'cluster/pool/pool-tasks', fn: 'doubleAll' };
  const [roundTrip] = await interleaved(1500, [
    {
      name: `empty task round trip (${threads * 2} in flight)`,
      unit: 'tasks/s',
      opsPerStep: emptyTasks,
      step: () => pool.runPipelined(emptyTasks, () => ({ ...noop, payload: [] })),
    },
  ]);
  const repeat = Math.max(
    1,
    Math.round((defaultReadingsPerTask.targetItemsPerTask ?? 32_768) / job.readings.length),
  );
  const packed = { job: { columns: packReadings(job.readings), options: job.options }, repeat };
  const readings = job.readings.length * repeat;
  const task = { module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsRepeatedly', payload: packed };
  const streamTasks = threads * 4;
  const [one, all, stream] = await interleaved(durationMs * 3, [
    {
      name: 'pure encode, main thread',
      unit: 'readings/s',
      opsPerStep: readings,
      step: () => encodeMeterReadingsRepeatedly(packed),
    },
    {
      name: `pure encode, ${threads} workers, 1 task each`,
      unit: 'readings/s',
      opsPerStep: readings * threads,
      step: () => Promise.all(Array.from({ length: threads }, () => pool.run(task))),
    },
    {
      name: `pure encode, ${threads} workers, ${streamTasks / threads} tasks each`,
      unit: 'readings/s',
      opsPerStep: readings * streamTasks,
      step: () => pool.runPipelined(streamTasks, () => task, { inFlight: streamTasks }),
    },
  ]);
  console.log(`\nCeiling on this machine now (tasks of ${readings} readings, nothing copied)`);
  printFigure(roundTrip!.name, rate(roundTrip!), 'tasks/s', `${(1e6 / rate(roundTrip!)).toFixed(0)} us each`);
  printRatios('  CIM encode with nothing to copy', one, [all, stream]);
  printFigure('best possible pool / main thread (1 task each)', rate(all) / rate(one), 'x');
  printFigure('best possible pool / main thread (stream)', rate(stream) / rate(one), 'x');
  printCpu(one, [all, stream], threads, 1000);
}
