/**
 * CIM XML encode (readings/s) and SMMePlus CSV encode (rows/s): the real encoders on the main
 * thread and through the worker pool, each as a ratio to a plain string-concatenation encoder
 * of the SAME output measured in the same run (checked byte for byte before timing).
 * Target: the pool reaches >= 1.6x the main-thread rate on 2 cores.
 *
 * A batch is production-sized: 64 messages x 960 readings (61,440 readings; 61,440 S_ rows),
 * which the pool cuts into tasks of ~32k items (cluster/pool/task-plan.ts), the same input and
 * the same bytes on both sides. Helpers live in bench/support/cim-csv-*.ts (data and baselines,
 * measuring and printing, probes of where pool time goes).
 *
 * Every row produces UTF-8 bytes (what a file or a socket takes): the baseline and the main
 * thread encode their text, the pool returns bytes (moved, no copy). A string built with `+=`
 * is a rope that V8 flattens only when it is read, so a row that stopped at the string would
 * skip work the others pay. The pool figures include everything a caller holding reading/row
 * objects pays: packing them into columns (adapters/cim/columnar-readings.ts,
 * adapters/csv/columnar-rows.ts) on the main thread, moving the columns, and receiving the
 * output. "one call at a time" is a caller that awaits each batch before the next; "encoding
 * ahead" is a caller that writes batch N while batch N+1 is encoded (cluster/pool/encode-ahead.ts,
 * what the writers can do), measured over streams of STREAM_BATCHES batches; every row does
 * the same number of items per step (support/cim-csv-measure.ts `sameWorkPerStep`: a row with
 * shorter steps was measured ~15% slower per item). CIM: "publisher's
 * path" is CimPublisher's own call with an out dir (`encodeMeterReadingsMessagesLeased` since
 * session 17: lent, released once the batch is written and announced; before,
 * `encodeMeterReadingsMessagesBytes`, bytes of their own kept in its window); "pre-packed" is a
 * caller that builds columns directly (through the output arenas; the columns are copied, not
 * moved, so they can be reused step after step); a second table starts from the cluster's packed
 * stream form (bench/support/cim-csv-packed.ts). CSV: "text" returns strings (copied back).
 *
 * The main thread is measured twice, with its own encoder and with the workers' encoder (pack
 * into columns, write into a reused arena), and the pool is judged against the faster, so a
 * ratio is what parallel work buys and not a better encoder. The CIM target is judged on the
 * publisher's path, the call a node makes; the rows that return bytes of their own are what a
 * publisher without an out dir does (its window keeps the bytes).
 *
 * The ceiling section shows what the machine allows at that moment: an empty task's round trip,
 * and two workers encoding with no transfer at all against the main thread doing the same.
 * With Linux autogroup scheduling all threads of this process share one group's CPU share, so
 * on a box busy with other sessions extra worker threads buy no extra CPU: the load average is
 * printed at the start and the end for that reason.
 */
import { availableParallelism } from 'node:os';
import {
  encodeMeterReadingsInPool,
  encodeMeterReadingsLeased,
  encodeMeterReadingsMessagesBytes,
  encodeMeterReadingsMessagesLeased,
  type MeterReadingsBytesJob,
  type MeterReadingsMessageJob,
} from '../adapters/cim/columnar-pool.js';
import { packReadingLists, packReadings } from '../adapters/cim/columnar-readings.js';
import {
  encodeMeterReadings,
  encodeMeterReadingsByModel,
  encodeMeterReadingsBytes,
} from '../adapters/cim/meter-readings.js';
import { type ColumnarMeterReadingsJob, encodeMeterReadingListsInto } from '../adapters/cim/pool-tasks.js';
import { type CsvRow, encodeCsvRows } from '../adapters/csv/codec.js';
import { encodeRowColumnsBytes } from '../adapters/csv/columnar-cells.js';
import { csvChunkRows, encodeCsvRowsInPool } from '../adapters/csv/columnar-pool.js';
import { type PackedRows, packRows, rowColumnBuffers } from '../adapters/csv/columnar-rows.js';
import { encodeAhead } from '../cluster/pool/encode-ahead.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import {
  clockOf,
  concatCsv,
  concatMeterReadings,
  csvRowsFor,
  DAY_MS,
  readingsFor,
} from './support/cim-csv-data.js';
import {
  type CpuMeasurement,
  interleaved,
  loadAverage,
  printCpu,
  printPoolAgainstMain,
  type Subject,
} from './support/cim-csv-measure.js';
import { packedTable, prePackedLeased } from './support/cim-csv-packed.js';
import { balance, ceiling, messageGroups, phases } from './support/cim-csv-probes.js';
import { printFigure, printRatios, rate } from './support/report.js';

/** Messages per batch (x 960 readings): 61,440 readings, two ~32k-reading tasks on 2 threads. */
const JOBS_PER_STEP = 64;
/**
 * Batches per step of the "encoding ahead" rows (and, through `sameWorkPerStep`, the items per
 * step of every row). Its start and end still cost the pool: session 19 traced a step of 4 (43
 * ms) and found the first task's packing with both workers idle and the last task running
 * alone, ~10% of the workers' time. MF_BENCH_STREAM_BATCHES changes it for experiments.
 */
const STREAM_BATCHES = Number(process.env.MF_BENCH_STREAM_BATCHES ?? 4);
const DURATION_MS = 2000; // per subject: each table runs its subjects interleaved for (subjects x this)

const decoder = new TextDecoder();
const utf8 = new TextEncoder();

/** Every pool path is checked byte for byte against the main-thread encoder before timing. */
async function checkSameOutput(
  pool: WorkerPool,
  jobs: MeterReadingsMessageJob[],
  csvRows: CsvRow[],
): Promise<void> {
  const bytes = await encodeMeterReadingsInPool(pool, jobs);
  for (const [i, job] of jobs.entries()) {
    const ours = encodeMeterReadings(job.readings, { ...job.options, clock: clockOf(DAY_MS) });
    if (ours !== encodeMeterReadingsByModel(job.readings, { ...job.options, clock: clockOf(DAY_MS) }))
      throw new Error('bench: the columnar encoder does not produce what the model path produces');
    if (ours !== concatMeterReadings(job.readings, job.options.messageId!, DAY_MS))
      throw new Error('bench: the concatenation baseline does not produce the same XML');
    if (decoder.decode(bytes[i]!) !== ours) throw new Error('bench: the pool does not produce the same XML');
  }
  const lease = await encodeMeterReadingsLeased(pool, jobs);
  if (lease.bytes.some((b, i) => decoder.decode(b) !== decoder.decode(bytes[i]!)))
    throw new Error('bench: the leased pool output is not the same XML');
  lease.release();
  const published = await encodeMeterReadingsMessagesBytes(pool, publisherJobs(jobs));
  if (published.some((b, i) => decoder.decode(b) !== decoder.decode(bytes[i]!)))
    throw new Error("bench: the publisher's pool path does not give the same XML");
  const lent = await encodeMeterReadingsMessagesLeased(pool, publisherJobs(jobs));
  if (lent.bytes.some((b, i) => decoder.decode(b) !== decoder.decode(bytes[i]!)))
    throw new Error("bench: the publisher's leased pool path does not give the same XML");
  lent.release();
  const csv = encodeCsvRows('S', csvRows);
  if (csv !== concatCsv(csvRows)) throw new Error('bench: the CSV baseline does not produce the same text');
  const packed = packRows('S', csvRows);
  if (!('columns' in packed) || decoder.decode(encodeRowColumnsBytes(packed.columns)) !== csv)
    throw new Error("bench: the workers' encoder on the main thread does not produce the same CSV");
  const chunks = await encodeCsvRowsInPool(pool, 'S', csvRows);
  if (chunks.map((c) => decoder.decode(c)).join('') !== csv)
    throw new Error('bench: the pool does not produce the same CSV');
}

/** The jobs as CimPublisher hands them to `encodeMeterReadingsMessagesBytes` (a clock, not a timestamp). */
function publisherJobs(jobs: readonly MeterReadingsMessageJob[]): MeterReadingsBytesJob[] {
  return jobs.map(({ readings, options }) => {
    const { timestampMs, ...rest } = options;
    return { readings, options: { ...rest, clock: clockOf(timestampMs) } };
  });
}

/** CSV chunks as text through the pool (strings copied back instead of bytes moved). */
async function csvTextInPool(pool: WorkerPool, rows: CsvRow[], chunkRows: number): Promise<string[]> {
  const chunks = Math.ceil(rows.length / chunkRows);
  const out = await pool.runPipelined<string[]>(chunks, (i) => {
    const packed = packRows('S', rows.slice(i * chunkRows, (i + 1) * chunkRows));
    return {
      module: 'adapters/csv/pool-tasks',
      fn: 'encodeRowsColumnarText',
      payload: [packed],
      transferList: rowColumnBuffers(packed),
    };
  });
  return out.flat();
}

/**
 * The CIM rows, in two tables each interleaved on its own. The first holds the figure of
 * record (CimPublisher's call against the main thread) and nothing else: in one table with the
 * rows that return a buffer per message, those rows hand this isolate ~270 MB of external
 * memory per step and whichever row runs next pays the mark-compacts (session 19), on the very
 * thread that packs and dispatches for the pool. Session 20 measured the figure of record in
 * the full table swinging 1.24x to 1.58x between two runs a minute apart, the main thread's own
 * rate 3.3M to 4.4M readings/s with it. Each table has its own main-thread rows, so every ratio
 * compares rows measured side by side.
 */
async function cimTable(
  pool: WorkerPool,
  queued: WorkerPool,
  jobs: MeterReadingsMessageJob[],
  threads: number,
): Promise<void> {
  const readingsPerStep = jobs.reduce((n, j) => n + j.readings.length, 0);
  const groups = messageGroups(jobs, threads);
  console.log(
    `CIM MeterReadings: ${jobs.length} messages x ${readingsPerStep / jobs.length} readings per batch, ${threads} threads, ${groups.length} tasks per batch`,
  );
  const prePacked = groups.map(([start, end]): ColumnarMeterReadingsJob[] =>
    jobs.slice(start, end).map((job) => ({ columns: packReadings(job.readings), options: job.options })),
  );
  const stream = Array.from({ length: STREAM_BATCHES }, () => jobs);
  const publisherStream = Array.from({ length: STREAM_BATCHES }, () => publisherJobs(jobs));
  // The main thread running the workers' encoder writes into arenas of its own, reused step
  // after step (as the pool's are), so it pays no buffer per message either.
  const mainArenas = groups.map(() => new ArrayBuffer(16 * 1024 * 1024));
  const baseline: Subject = {
    name: 'string concatenation (main thread)',
    unit: 'readings/s',
    opsPerStep: readingsPerStep,
    step: () => {
      for (const job of jobs) utf8.encode(concatMeterReadings(job.readings, job.options.messageId!, DAY_MS));
    },
  };
  const mainBytes: Subject = {
    name: 'encodeMeterReadingsBytes (main thread)',
    unit: 'readings/s',
    opsPerStep: readingsPerStep,
    step: () => {
      for (const job of jobs)
        encodeMeterReadingsBytes(job.readings, { ...job.options, clock: clockOf(DAY_MS) });
    },
  };
  // The workers' own encoder on the main thread (pack each task's messages into one batch of
  // columns, then write the bytes straight into a reused arena): the pool is judged against the faster of this and
  // encodeMeterReadingsBytes, so the ratio is what parallel work buys, not a better encoder.
  const mainColumnar: Subject = {
    name: "main thread, the workers' encoder",
    unit: 'readings/s',
    opsPerStep: readingsPerStep,
    step: () => {
      for (const [g, [start, end]] of groups.entries()) {
        const group = jobs.slice(start, end);
        const lists = packReadingLists(group.map((job) => job.readings));
        const options = group.map((job) => job.options);
        const written = encodeMeterReadingListsInto({ ...lists, options, arena: mainArenas[g]! });
        if (Object.keys(written.value.spilled).length > 0)
          throw new Error('bench: a main-thread arena is too small');
      }
    },
  };
  const faster = (a: CpuMeasurement, b: CpuMeasurement) => (rate(a) > rate(b) ? a : b);
  const againstWhich = (m: CpuMeasurement, bytesRow: CpuMeasurement) =>
    `  (pool / main thread below: against ${m === bytesRow ? 'encodeMeterReadingsBytes' : "the workers' encoder"}, the faster)`;

  const [base, main, columnar, publisher, leased] = await interleaved(DURATION_MS * 8, [
    baseline,
    mainBytes,
    mainColumnar,
    {
      // CimPublisher's own call with an out dir (session 17: lent from the arenas, released
      // once the batch is written and announced, its window keeping no bytes), with
      // publishes overlapping as the publisher allows.
      name: `pool, ${threads} workers, publisher's path, ahead`,
      unit: 'readings/s',
      opsPerStep: readingsPerStep * STREAM_BATCHES,
      step: () =>
        encodeAhead(
          publisherStream,
          (batch) => encodeMeterReadingsMessagesLeased(pool, batch),
          (lease) => lease.release(),
        ),
    },
    {
      // A writer that is done with the bytes once written lends them (views into the workers'
      // output arenas) and releases them after each write: nothing copied or allocated per message.
      name: `pool, ${threads} workers, encoding ahead, leased`,
      unit: 'readings/s',
      opsPerStep: readingsPerStep * STREAM_BATCHES,
      step: () =>
        encodeAhead(
          stream,
          (batch) => encodeMeterReadingsLeased(pool, batch),
          (lease) => lease.release(),
        ),
    },
  ]);
  printRatios('CIM XML encode, the figure of record (all rows produce UTF-8 bytes)', base, [
    main,
    columnar,
    publisher,
    leased,
  ]);
  const fasterMain = faster(columnar, main);
  console.log(againstWhich(fasterMain, main));
  // The figure of record: CimPublisher's own call with an out dir, as a node runs it.
  printFigure(
    "pool (publisher's path, ahead) / main thread",
    rate(publisher) / rate(fasterMain),
    'x',
    'target >= 1.6x on 2 cores',
  );
  printFigure('pool (encoding ahead, leased) / main thread', rate(leased) / rate(fasterMain), 'x');
  printCpu(fasterMain, [publisher, leased], threads, 1000);

  const [base2, model, main2, columnar2, bytes, ahead, queuedAhead, pre] = await interleaved(
    DURATION_MS * 6,
    [
      baseline,
      {
        name: 'model path, before session 12 (main thread)',
        unit: 'readings/s',
        opsPerStep: readingsPerStep,
        step: () => {
          for (const job of jobs)
            utf8.encode(encodeMeterReadingsByModel(job.readings, { ...job.options, clock: clockOf(DAY_MS) }));
        },
      },
      mainBytes,
      mainColumnar,
      {
        name: `pool, ${threads} workers, one call at a time`,
        unit: 'readings/s',
        opsPerStep: readingsPerStep,
        step: () => encodeMeterReadingsInPool(pool, jobs),
      },
      {
        name: `pool, ${threads} workers, encoding ahead`,
        unit: 'readings/s',
        opsPerStep: readingsPerStep * STREAM_BATCHES,
        step: () =>
          encodeAhead(
            stream,
            (batch) => encodeMeterReadingsInPool(pool, batch),
            () => undefined,
          ),
      },
      {
        // The next task already waits in the worker: no hand-off through the main thread between tasks.
        name: `pool, ${threads} workers, ahead, 2 tasks per worker`,
        unit: 'readings/s',
        opsPerStep: readingsPerStep * STREAM_BATCHES,
        step: () =>
          encodeAhead(
            stream,
            (batch) => encodeMeterReadingsInPool(queued, batch),
            () => undefined,
          ),
      },
      {
        // If the caller built columns directly, packing drops out; through the arenas, as the
        // leased row above (the columns are copied into the task so they serve every step).
        name: `pool, ${threads} workers, pre-packed, leased`,
        unit: 'readings/s',
        opsPerStep: readingsPerStep,
        step: () => prePackedLeased(pool, prePacked),
      },
    ],
  );
  console.log('');
  printRatios('CIM XML encode, the other paths (all rows produce UTF-8 bytes)', base2, [
    model,
    main2,
    columnar2,
    bytes,
    ahead,
    queuedAhead,
    pre,
  ]);
  printFigure('main thread / model path', rate(main2) / rate(model), 'x', 'the encoder itself');
  const fasterMain2 = faster(columnar2, main2);
  console.log(againstWhich(fasterMain2, main2));
  printPoolAgainstMain(fasterMain2, { bytes, ahead, queuedAhead, pre }, threads, {
    bytesOfTheirOwn: 'without an out dir',
  });
}

async function csvTable(
  pool: WorkerPool,
  queued: WorkerPool,
  rows: CsvRow[],
  threads: number,
): Promise<void> {
  const chunkRows = csvChunkRows(rows.length, threads);
  console.log(
    `\nCSV S_ rows: ${rows.length} rows per batch, in chunks of ${chunkRows} rows (the pool's default)`,
  );
  const prePacked: PackedRows[] = [];
  for (let i = 0; i < rows.length; i += chunkRows)
    prePacked.push(packRows('S', rows.slice(i, i + chunkRows)));
  const stream = Array.from({ length: STREAM_BATCHES }, () => rows);
  const [base, main, mainColumnar, bytes, ahead, queuedAhead, text, pre] = await interleaved(
    DURATION_MS * 8,
    [
      {
        name: 'string concatenation (main thread)',
        unit: 'rows/s',
        opsPerStep: rows.length,
        step: () => utf8.encode(concatCsv(rows)),
      },
      {
        // In the same chunks as the pool, so neither side gains from the batch size.
        name: 'encodeCsvRows (main thread)',
        unit: 'rows/s',
        opsPerStep: rows.length,
        step: () => {
          for (let i = 0; i < rows.length; i += chunkRows)
            utf8.encode(encodeCsvRows('S', rows.slice(i, i + chunkRows)));
        },
      },
      {
        // The workers' own encoder run on the main thread (pack, then cells straight from the
        // columns into bytes): it is cheaper than encodeCsvRows, so the pool is also judged
        // against it, so that the ratio is what parallel work buys and not a better encoder.
        name: "main thread, the workers' encoder",
        unit: 'rows/s',
        opsPerStep: rows.length,
        step: () => {
          for (let i = 0; i < rows.length; i += chunkRows) {
            const packed = packRows('S', rows.slice(i, i + chunkRows));
            if (!('columns' in packed)) throw new Error('bench: S_ rows did not pack into columns');
            encodeRowColumnsBytes(packed.columns);
          }
        },
      },
      {
        name: `pool, ${threads} workers, one call at a time`,
        unit: 'rows/s',
        opsPerStep: rows.length,
        step: () => encodeCsvRowsInPool(pool, 'S', rows),
      },
      {
        name: `pool, ${threads} workers, encoding ahead`,
        unit: 'rows/s',
        opsPerStep: rows.length * STREAM_BATCHES,
        step: () =>
          encodeAhead(
            stream,
            (batch) => encodeCsvRowsInPool(pool, 'S', batch),
            () => undefined,
          ),
      },
      {
        name: `pool, ${threads} workers, ahead, 2 tasks per worker`,
        unit: 'rows/s',
        opsPerStep: rows.length * STREAM_BATCHES,
        step: () =>
          encodeAhead(
            stream,
            (batch) => encodeCsvRowsInPool(queued, 'S', batch),
            () => undefined,
          ),
      },
      {
        name: `pool, ${threads} workers, -> text`,
        unit: 'rows/s',
        opsPerStep: rows.length,
        step: () => csvTextInPool(pool, rows, chunkRows),
      },
      {
        name: `pool, ${threads} workers, pre-packed`,
        unit: 'rows/s',
        opsPerStep: rows.length,
        step: () =>
          pool.runPipelined(prePacked.length, (i) => ({
            module: 'adapters/csv/pool-tasks',
            fn: 'encodeRowsColumnar',
            payload: [prePacked[i]!],
          })),
      },
    ],
  );
  printRatios('CSV encode (all rows produce UTF-8 bytes)', base, [
    main,
    mainColumnar,
    bytes,
    ahead,
    queuedAhead,
    text,
    pre,
  ]);
  // Every pool row against the FASTER main-thread path for the same rows, its CPU lines once.
  const bestMain = rate(mainColumnar) > rate(main) ? mainColumnar : main;
  console.log(
    `  (pool / main thread below: against ${bestMain === main ? 'encodeCsvRows' : "the workers' encoder on the main thread"}, the faster)`,
  );
  printPoolAgainstMain(bestMain, { bytes, ahead, queuedAhead, text, pre }, threads);
}

async function main(): Promise<void> {
  const threads = availableParallelism();
  const pool = new WorkerPool({ mode: 'workers', threads });
  // tasksPerWorker 2 (cluster/pool/README.md): the next task waits in the worker instead of a
  // hand-off through the main thread; measured beside the default (1), which costs less CPU.
  const queued = new WorkerPool({ mode: 'workers', threads, tasksPerWorker: 2 });
  try {
    const jobs: MeterReadingsMessageJob[] = Array.from({ length: JOBS_PER_STEP }, (_, i) => ({
      readings: readingsFor(i),
      options: { source: 'bench', messageId: `m-${i}`, timestampMs: DAY_MS, profile: 'seed-compat' },
    }));
    const csvRows = Array.from({ length: JOBS_PER_STEP }, (_, i) => csvRowsFor(i)).flat();
    console.log(`${loadAverage()} on ${threads} cores`);
    const started = performance.now();
    const took = (since: number) => console.log(`  (${((performance.now() - since) / 1000).toFixed(1)} s)`);
    // Check the outputs, then warm the workers and the main thread alike (module import, JIT).
    await checkSameOutput(pool, jobs, csvRows);
    for (let i = 0; i < 4; i++) {
      await encodeMeterReadingsInPool(pool, jobs);
      await encodeCsvRowsInPool(pool, 'S', csvRows);
      await encodeMeterReadingsInPool(queued, jobs);
      await encodeCsvRowsInPool(queued, 'S', csvRows);
      for (const job of jobs)
        encodeMeterReadingsBytes(job.readings, { ...job.options, clock: clockOf(DAY_MS) });
      utf8.encode(encodeCsvRows('S', csvRows));
    }
    took(started);
    for (const section of [
      () => cimTable(pool, queued, jobs, threads),
      () => packedTable(pool, jobs, threads, DURATION_MS, STREAM_BATCHES),
      () => csvTable(pool, queued, csvRows, threads),
      () => phases(jobs, csvRows, csvChunkRows(csvRows.length, threads)),
      () => balance(pool, jobs, threads),
      () => ceiling(pool, jobs[0]!, threads, DURATION_MS),
    ]) {
      const t0 = performance.now();
      await section();
      took(t0);
    }
    console.log(
      `\n${loadAverage()} at the end; ${((performance.now() - started) / 1000).toFixed(0)} s in all`,
    );
  } finally {
    await pool.close();
    await queued.close();
  }
}

await main();
