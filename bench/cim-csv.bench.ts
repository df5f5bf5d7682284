/**
 * CIM XML encode (readings/s) and SMMePlus CSV encode (rows/s): the real encoders on the main
 * thread and through the worker pool, each as a ratio to a plain string-concatenation encoder
 * of the SAME output measured in the same run (checked byte for byte before timing).
 * Target: the pool reaches >= 1.6x the main-thread rate on 2 cores.
 *
 * Every row produces UTF-8 bytes (what a file or a socket takes): the baseline and the main
 * thread encode their text, the pool returns bytes (moved, no copy). A string built with `+=`
 * is a rope that V8 flattens only when it is read, so a row that stopped at the string would
 * skip work the others pay. The pool figures include everything a caller holding reading/row
 * objects pays: packing them into columns (adapters/cim/columnar-readings.ts,
 * adapters/csv/columnar-rows.ts) on the main thread, moving the columns, and receiving the
 * output. "one call at a time" is a caller that awaits each batch before the next; "encoding
 * ahead" is a caller that writes batch N while batch N+1 is encoded (cluster/pool/encode-ahead.ts,
 * what the writers can do), measured over streams of STREAM_BATCHES batches. "text" returns
 * strings (copied back); "pre-packed" is a caller that builds columns directly (the columns
 * are copied, not moved, so they can be reused step after step).
 *
 * The ceiling section shows what the machine allows at that moment: an empty task's round trip,
 * and two workers encoding with no transfer at all against the main thread doing the same.
 * With Linux autogroup scheduling all threads of this process share one group's CPU share, so
 * on a box busy with other sessions extra worker threads buy no extra CPU: the load average is
 * printed at the start and the end for that reason.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import {
  defaultReadingsPerTask,
  encodeMeterReadingsInPool,
  type MeterReadingsMessageJob,
} from '../adapters/cim/columnar-pool.js';
import { checkReadingColumns, packReadings } from '../adapters/cim/columnar-readings.js';
import {
  encodeMeterReadings,
  encodeMeterReadingsByModel,
  encodeMeterReadingsBytes,
} from '../adapters/cim/meter-readings.js';
import { type ColumnarMeterReadingsJob, encodeMeterReadingsRepeatedly } from '../adapters/cim/pool-tasks.js';
import { type CsvRow, encodeCsvRows, formatCsvTimestamp } from '../adapters/csv/codec.js';
import { csvChunkRows, encodeCsvRowsInPool } from '../adapters/csv/columnar-pool.js';
import { type PackedRows, packRows, rowColumnBuffers, unpackRows } from '../adapters/csv/columnar-rows.js';
import type { CollectedReading } from '../adapters/field-data.js';
import { encodeAhead } from '../cluster/pool/encode-ahead.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import { groupStarts, taskCountFor } from '../cluster/pool/task-plan.js';
import { type Measurement, printFigure, printRatios, rate } from './support/report.js';

const METERS_PER_MESSAGE = 40;
const HOURS = 24;
const JOBS_PER_STEP = 8;
/** Batches per step of the "encoding ahead" rows: a stream long enough that its start and end matter little. */
const STREAM_BATCHES = 4;
const DURATION_MS = 3000; // per subject: each table runs its subjects interleaved for (subjects x this)
const LP_CODE = '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0';
const DAY_MS = Date.UTC(2026, 10, 22);

function readingsFor(message: number): CollectedReading[] {
  const out: CollectedReading[] = [];
  for (let m = 0; m < METERS_PER_MESSAGE; m++) {
    const meterSerial = `UAAEEDN${message}${String(m).padStart(6, '0')}`;
    for (let h = 1; h <= HOURS; h++)
      out.push({
        meterSerial,
        usagePoint: `POD${m}`,
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: (m * 31 + h * 17) % 900,
        unit: 'Wh',
        timestampMs: DAY_MS + h * 3_600_000,
        intervalSeconds: 3600,
      });
  }
  return out;
}

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** The baseline: hand-written concatenation of exactly the XML encodeMeterReadings emits for this data. */
function concatMeterReadings(
  readings: readonly CollectedReading[],
  messageId: string,
  timestampMs: number,
): string {
  let xml = `<?xml version="1.0" encoding="utf-8"?>\n<EventMessage xmlns="http://iec.ch/TC57/2011/schema/message">\n  <Header>\n    <Verb>created</Verb>\n    <Noun>MeterReadings</Noun>\n    <Revision>2.0</Revision>\n    <Timestamp>${iso(timestampMs)}</Timestamp>\n    <Source>bench</Source>\n    <MessageID>${messageId}</MessageID>\n  </Header>\n  <Payload>\n    <MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#">\n`;
  for (let i = 0; i < readings.length; i += HOURS) {
    const first = readings[i]!;
    xml += '      <MeterReading>\n        <IntervalBlocks>\n';
    for (let h = 0; h < HOURS; h++) {
      const r = readings[i + h]!;
      xml += `          <IntervalReadings>\n            <timeStamp>${iso(r.timestampMs)}</timeStamp>\n            <value>${r.value}</value>\n            <ReadingQualities>\n              <ReadingQualityType ref="1.0.0"/>\n            </ReadingQualities>\n          </IntervalReadings>\n`;
    }
    xml += `          <ReadingType ref="${LP_CODE}"/>\n        </IntervalBlocks>\n        <Meter>\n          <Names>\n            <name>${escapeText(first.meterSerial)}</name>\n          </Names>\n        </Meter>\n        <UsagePoint>\n          <Names>\n            <name>${escapeText(first.usagePoint!)}</name>\n          </Names>\n        </UsagePoint>\n      </MeterReading>\n`;
  }
  return `${xml}    </MeterReadings>\n  </Payload>\n</EventMessage>\n`;
}

type Subject = { name: string; unit: string; opsPerStep: number; step: () => unknown };

/**
 * Runs one step of each subject per round for about `durationMs` and sums each one's time. On a
 * shared, busy machine the load drifts within seconds; interleaving exposes every subject to
 * the same drift, which back-to-back blocks would not.
 */
async function interleaved(durationMs: number, subjects: Subject[]): Promise<CpuMeasurement[]> {
  const totals = subjects.map((s) => ({
    name: s.name,
    unit: s.unit,
    ops: 0,
    elapsedMs: 0,
    cpuMs: 0,
    mainCpuMs: 0,
  }));
  const start = performance.now();
  // A subject pays for garbage the one before it left (V8 collects later), so the order is
  // shuffled every round (seeded, so runs are comparable): each follows every other alike.
  let seed = 0x9e3779b9;
  const random = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const order = subjects.map((_, i) => i);
  while (performance.now() - start < durationMs) {
    for (let k = order.length - 1; k > 0; k--) {
      const j = random(k + 1);
      [order[k], order[j]] = [order[j]!, order[k]!];
    }
    for (const i of order) {
      const subject = subjects[i]!;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const main0 = mainThreadCpuMs();
      await subject.step();
      const cpu = process.cpuUsage(cpu0);
      totals[i]!.elapsedMs += performance.now() - t0;
      totals[i]!.cpuMs += (cpu.user + cpu.system) / 1000;
      totals[i]!.mainCpuMs += mainThreadCpuMs() - main0;
      totals[i]!.ops += subject.opsPerStep;
    }
  }
  return totals;
}

/** A measurement with the CPU time all threads of this process spent on it, and the main thread alone. */
type CpuMeasurement = Measurement & { cpuMs: number; mainCpuMs: number };

const clockTicksMs = 10; // USER_HZ is 100 on Linux
/**
 * CPU time of the main thread alone (Linux /proc, 10 ms resolution; NaN elsewhere): what the
 * pool costs the thread that also has to run everything else, and, on 2 cores, the workers.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * clockTicksMs;
  } catch {
    return Number.NaN;
  }
}

/**
 * On a shared box the wall-clock ratio says more about the neighbours than about the pool, so
 * the CPU time (all threads, process.cpuUsage) per operation is printed too, and from it what
 * the pool would reach with all cores to itself: cores x (main CPU per op) / (pool CPU per op).
 * This is a projection from measured CPU time, not a measurement of idle cores.
 */
function printCpu(main: CpuMeasurement, pooled: readonly CpuMeasurement[], cores: number, per: number): void {
  const perOps = (m: CpuMeasurement) => (m.cpuMs * per) / m.ops;
  printFigure(`CPU ms per ${per} ops, ${main.name}`, perOps(main), 'ms');
  for (const m of pooled) {
    printFigure(`CPU ms per ${per} ops, ${m.name}`, perOps(m), 'ms', '(all threads)');
    printFigure(
      '  of which the main thread',
      (m.mainCpuMs * per) / m.ops,
      'ms',
      '(packing, task bookkeeping)',
    );
    printFigure(`  projected pool / main on ${cores} idle cores`, (cores * perOps(main)) / perOps(m), 'x');
  }
}

function csvRowsFor(chunk: number): CsvRow[] {
  return readingsFor(chunk).map((r) => ({
    serialnumber: r.meterSerial,
    pod: r.usagePoint!,
    value: r.value,
    state: 0,
    cimcode: LP_CODE,
    sampledate: r.timestampMs,
  }));
}

/** The CSV baseline: join with ';' (no field here needs quoting), same number and time formats. */
function concatCsv(rows: CsvRow[]): string {
  let out = '';
  for (const r of rows)
    out += `${r.serialnumber};${r.pod};${r.value};${r.state};${r.cimcode};${formatCsvTimestamp(r.sampledate as number)}\n`;
  return out;
}

const decoder = new TextDecoder();
const utf8 = new TextEncoder();
const clockOf = (ms: number) => ({ now: () => ms });
const loadAverage = () => `load average (1 min): ${loadavg()[0]!.toFixed(1)}`;

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
  const csv = encodeCsvRows('S', csvRows);
  if (csv !== concatCsv(csvRows)) throw new Error('bench: the CSV baseline does not produce the same text');
  const chunks = await encodeCsvRowsInPool(pool, 'S', csvRows);
  if (chunks.map((c) => decoder.decode(c)).join('') !== csv)
    throw new Error('bench: the pool does not produce the same CSV');
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

/** The message groups encodeMeterReadingsInPool makes, so every pool row pays the same number of tasks. */
function messageGroups(jobs: readonly MeterReadingsMessageJob[], threads: number): [number, number][] {
  const weights = jobs.map((j) => j.readings.length);
  const total = weights.reduce((a, b) => a + b, 0);
  const starts = groupStarts(weights, Math.max(1, taskCountFor(total, threads, defaultReadingsPerTask)));
  return starts.map((start, g) => [start, starts[g + 1] ?? jobs.length]);
}

async function cimTable(pool: WorkerPool, jobs: MeterReadingsMessageJob[], threads: number): Promise<void> {
  const readingsPerStep = jobs.reduce((n, j) => n + j.readings.length, 0);
  const groups = messageGroups(jobs, threads);
  console.log(
    `CIM MeterReadings: ${jobs.length} messages x ${readingsPerStep / jobs.length} readings per batch, ${threads} threads, ${groups.length} tasks per batch`,
  );
  const packGroup = ([start, end]: [number, number]): ColumnarMeterReadingsJob[] =>
    jobs.slice(start, end).map((job) => ({ columns: packReadings(job.readings), options: job.options }));
  const prePacked = groups.map(packGroup);
  const stream = Array.from({ length: STREAM_BATCHES }, () => jobs);
  const [base, model, main, bytes, ahead, text, pre] = (await interleaved(DURATION_MS * 6, [
    {
      name: 'string concatenation (main thread)',
      unit: 'readings/s',
      opsPerStep: readingsPerStep,
      step: () => {
        for (const job of jobs)
          utf8.encode(concatMeterReadings(job.readings, job.options.messageId!, DAY_MS));
      },
    },
    {
      name: 'model path, before session 12 (main thread)',
      unit: 'readings/s',
      opsPerStep: readingsPerStep,
      step: () => {
        for (const job of jobs)
          utf8.encode(encodeMeterReadingsByModel(job.readings, { ...job.options, clock: clockOf(DAY_MS) }));
      },
    },
    {
      name: 'encodeMeterReadingsBytes (main thread)',
      unit: 'readings/s',
      opsPerStep: readingsPerStep,
      step: () => {
        for (const job of jobs)
          encodeMeterReadingsBytes(job.readings, { ...job.options, clock: clockOf(DAY_MS) });
      },
    },
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
      name: `pool, ${threads} workers, -> text`,
      unit: 'readings/s',
      opsPerStep: readingsPerStep,
      step: () =>
        pool.runPipelined(groups.length, (g) => ({
          module: 'adapters/cim/pool-tasks',
          fn: 'encodeMeterReadingsColumnarText',
          payload: packGroup(groups[g]!),
        })),
    },
    {
      // If the caller built columns directly (output-batch could), packing drops out.
      name: `pool, ${threads} workers, pre-packed`,
      unit: 'readings/s',
      opsPerStep: readingsPerStep,
      step: () =>
        pool.runPipelined(prePacked.length, (g) => ({
          module: 'adapters/cim/pool-tasks',
          fn: 'encodeMeterReadingsColumnar',
          payload: prePacked[g]!,
        })),
    },
  ])) as CpuMeasurement[] as [
    CpuMeasurement,
    CpuMeasurement,
    CpuMeasurement,
    CpuMeasurement,
    CpuMeasurement,
    CpuMeasurement,
    CpuMeasurement,
  ];
  printRatios('CIM XML encode (all rows produce UTF-8 bytes)', base, [model, main, bytes, ahead, text, pre]);
  printFigure('main thread / model path', rate(main) / rate(model), 'x', 'the encoder itself');
  printPoolAgainstMain(main, { bytes, ahead, text, pre }, threads);
}

async function csvTable(pool: WorkerPool, rows: CsvRow[], threads: number): Promise<void> {
  const chunkRows = csvChunkRows(rows.length, threads);
  console.log(
    `\nCSV S_ rows: ${rows.length} rows per batch, in chunks of ${chunkRows} rows (the pool's default)`,
  );
  const prePacked: PackedRows[] = [];
  for (let i = 0; i < rows.length; i += chunkRows)
    prePacked.push(packRows('S', rows.slice(i, i + chunkRows)));
  const stream = Array.from({ length: STREAM_BATCHES }, () => rows);
  const [base, main, bytes, ahead, text, pre] = (await interleaved(DURATION_MS * 6, [
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
  ])) as [CpuMeasurement, CpuMeasurement, CpuMeasurement, CpuMeasurement, CpuMeasurement, CpuMeasurement];
  printRatios('CSV encode (all rows produce UTF-8 bytes)', base, [main, bytes, ahead, text, pre]);
  printPoolAgainstMain(main, { bytes, ahead, text, pre }, threads);
}

/** Each pool variant's rate against the main thread's, and CPU per item: the same for CIM and CSV. */
function printPoolAgainstMain(
  main: CpuMeasurement,
  pool: { bytes: CpuMeasurement; ahead: CpuMeasurement; text: CpuMeasurement; pre: CpuMeasurement },
  threads: number,
): void {
  printFigure(
    'pool (one call at a time) / main thread',
    rate(pool.bytes) / rate(main),
    'x',
    'target >= 1.6x on 2 cores',
  );
  printFigure(
    'pool (encoding ahead) / main thread',
    rate(pool.ahead) / rate(main),
    'x',
    'target >= 1.6x on 2 cores',
  );
  printFigure('pool (text) / main thread', rate(pool.text) / rate(main), 'x');
  printFigure('pool (pre-packed) / main thread', rate(pool.pre) / rate(main), 'x');
  printCpu(main, [pool.bytes, pool.ahead, pool.pre], threads, 1000);
}

/** CPU ms per 1000 items of `work` on this thread, run for about `durationMs`. */
function cpuPer1000(items: number, durationMs: number, work: () => unknown): number {
  for (let i = 0; i < 3; i++) work();
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let done = 0;
  while (performance.now() - start < durationMs) {
    work();
    done += items;
  }
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) / 1000 / done) * 1000;
}

/**
 * Where the pool's extra CPU goes, phase by phase, each timed alone on the main thread: what
 * the pool path does beyond the encode itself (packing on the caller's thread; unpacking and
 * UTF-8 conversion in the worker), as a share of the encode.
 */
function phases(jobs: readonly MeterReadingsMessageJob[], rows: readonly CsvRow[], chunkRows: number): void {
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
    unpack: cpuPer1000(rows.length, phaseMs, () => {
      for (const p of packedRows) if ('columns' in p) unpackRows(p.columns);
    }),
    utf8: 0,
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
    printFigure(
      `${name} ${name === 'CIM' ? 'check the columns' : 'unpack'} in the worker`,
      p.unpack,
      'ms',
      pct(p.unpack, p.encode),
    );
    printFigure(`${name}   of which text -> bytes (flatten, UTF-8)`, p.utf8, 'ms', pct(p.utf8, p.encode));
  }
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}% of the encode`;

type Probe = { threadId: number; busyMs: number; bytes: number };

/**
 * How evenly the workers share a step: one task per message against the grouping the pool
 * uses. Each step's tasks are counted per worker ("4/4": four on each) and the workers' busy
 * time is set against threads x the step's wall time. With many small tasks piscina hands the
 * next one to whichever worker frees first, so a step often splits 3/5 or 2/6 and one worker
 * idles at its end: wall-clock the CPU figures above do not show.
 */
async function balance(pool: WorkerPool, jobs: MeterReadingsMessageJob[], threads: number): Promise<void> {
  console.log('\nWorker balance per step (CIM, 24 steps each)');
  const perMessage: [number, number][] = jobs.map((_, i) => [i, i + 1]);
  for (const [label, groups] of [
    ['one task per message', perMessage],
    ['grouped as the pool does', messageGroups(jobs, threads)],
  ] as const) {
    const splits = new Map<string, number>();
    let busyMs = 0;
    let wallMs = 0;
    for (let step = 0; step < 24; step++) {
      const t0 = performance.now();
      const probes = await pool.runPipelined<Probe>(groups.length, (g) => {
        const [start, end] = groups[g]!;
        const payload = jobs
          .slice(start, end)
          .map((job) => ({ columns: packReadings(job.readings), options: job.options }));
        return { module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsColumnarProbe', payload };
      });
      wallMs += performance.now() - t0;
      const perWorker = new Map<number, number>();
      for (const p of probes) {
        perWorker.set(p.threadId, (perWorker.get(p.threadId) ?? 0) + 1);
        busyMs += p.busyMs;
      }
      const counts = [...perWorker.values()];
      while (counts.length < threads) counts.push(0);
      const key = counts.sort((a, b) => a - b).join('/');
      splits.set(key, (splits.get(key) ?? 0) + 1);
    }
    const shown = [...splits].map(([k, n]) => `${k} x${n}`).join(', ');
    printFigure(`${label}: workers busy`, (100 * busyMs) / (threads * wallMs), '%', `splits: ${shown}`);
  }
}

/** What the machine allows right now, with no packing or transfer in the way. */
async function ceiling(pool: WorkerPool, job: MeterReadingsMessageJob, threads: number): Promise<void> {
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
  const repeat = 8;
  const packed = { job: { columns: packReadings(job.readings), options: job.options }, repeat };
  const readings = job.readings.length * repeat;
  const [one, all] = (await interleaved(DURATION_MS * 2, [
    {
      name: 'pure encode, main thread',
      unit: 'readings/s',
      opsPerStep: readings,
      step: () => encodeMeterReadingsRepeatedly(packed),
    },
    {
      name: `pure encode, ${threads} workers at once, no transfer`,
      unit: 'readings/s',
      opsPerStep: readings * threads,
      step: () =>
        Promise.all(
          Array.from({ length: threads }, () =>
            pool.run({
              module: 'adapters/cim/pool-tasks',
              fn: 'encodeMeterReadingsRepeatedly',
              payload: packed,
            }),
          ),
        ),
    },
  ])) as [CpuMeasurement, CpuMeasurement];
  console.log('\nCeiling on this machine now');
  printFigure(roundTrip!.name, rate(roundTrip!), 'tasks/s', `${(1e6 / rate(roundTrip!)).toFixed(0)} us each`);
  printRatios('  CIM encode with nothing to copy', one, [all]);
  printFigure('best possible pool / main thread', rate(all) / rate(one), 'x');
  printCpu(one, [all], threads, 1000);
}

async function main(): Promise<void> {
  const threads = availableParallelism();
  const pool = new WorkerPool({ mode: 'workers', threads });
  try {
    const jobs: MeterReadingsMessageJob[] = Array.from({ length: JOBS_PER_STEP }, (_, i) => ({
      readings: readingsFor(i),
      options: { source: 'bench', messageId: `m-${i}`, timestampMs: DAY_MS, profile: 'seed-compat' },
    }));
    const csvRows = Array.from({ length: JOBS_PER_STEP }, (_, i) => csvRowsFor(i)).flat();
    console.log(`${loadAverage()} on ${threads} cores`);
    // Warm the workers (module import, JIT) and check the outputs before timing.
    for (let i = 0; i < 5; i++) await checkSameOutput(pool, jobs, csvRows);
    await cimTable(pool, jobs, threads);
    await csvTable(pool, csvRows, threads);
    phases(jobs, csvRows, csvChunkRows(csvRows.length, threads));
    await balance(pool, jobs, threads);
    await ceiling(pool, jobs[0]!, threads);
    console.log(`\n${loadAverage()} at the end`);
  } finally {
    await pool.close();
  }
}

await main();
