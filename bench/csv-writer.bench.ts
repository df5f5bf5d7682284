/**
 * DailyCsvWriter append cost per row at a small part (1 MiB) and at a large part (an open
 * part already ~96 MiB big, limit 256 MiB), as ratios to raw `fs.appendFile` of the same bytes
 * in the same run. The claim under test: the cost of an append does not grow with the size of
 * the part it goes to (staged appends write their own bytes; visible copies are coalesced to
 * at most `publishCopyRatio` x the bytes appended, and parts/days end with a free rename).
 *
 * For contrast, the previous design (copy the part, append, fsync, rename on every append) is
 * measured at both sizes, and one publish of the large part (copy + fsync + rename) is timed,
 * with the steady-state per-row cost including that amortized copy work.
 * The writer fsyncs twice or three times per append (staging, manifest, directory), so the
 * durable floor `appendFile + fsync` is shown too. Rows are pre-encoded for the baselines;
 * the writer encodes its rows itself (csv-stringify), which is part of its figure; the
 * "worker pool" line has it encode them in a WorkerPool (columnar rows in, bytes back), as a
 * node's consumers do when given the node's pool.
 */
import { constants } from 'node:fs';
import { appendFile, copyFile, mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CsvRow } from '../adapters/csv/codec.js';
import { encodeCsvRows, headerLine } from '../adapters/csv/codec.js';
import { type CsvEncodePool, DailyCsvWriter } from '../adapters/csv/daily-writer.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import { mainThreadCpuMs } from './support/cim-csv-measure.js';
import { type Measurement, measure, printFigure, printRatios, rate } from './support/report.js';

const ROWS_PER_APPEND = 500;
const DURATION_MS = 4000;
const DAY_MS = Date.UTC(2026, 10, 22, 12);
const MiB = 1024 * 1024;
const LARGE_PREFILL_BYTES = 96 * MiB;

function rowsOf(batch: number, rows = ROWS_PER_APPEND, podBytes = 7): CsvRow[] {
  return Array.from({ length: rows }, (_, i) => ({
    serialnumber: `UAAEEDN152${String(batch).padStart(5, '0')}${String(i).padStart(3, '0')}`,
    pod: String(1_000_000 + i).padEnd(podBytes, '0'),
    value: (batch * 7 + i) % 1000,
    state: 0,
    cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
    sampledate: DAY_MS - 3_600_000 * (i % 24),
  }));
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  await fh.sync();
  await fh.close();
}

async function writerRun(
  dir: string,
  name: string,
  maxPartBytes: number,
  prefillBytes: number,
  pool?: CsvEncodePool,
  rowsPerAppend = ROWS_PER_APPEND,
  inFlight = 1,
) {
  const writer = await DailyCsvWriter.open({
    dir,
    kind: 'S',
    server: 'bench',
    maxPartBytes,
    // poolMinRows 1: every append through the pool, to show what the hand-off costs.
    ...(pool ? { pool, poolMinRows: 1 } : {}),
  });
  let seq = 1;
  // Prefill with wide rows (few to encode) so the measured appends land in a big open part.
  while (writer.stats.stagedBytes < prefillBytes)
    await writer.append(rowsOf(seq, 20_000, 400), { seq: seq++, collectedAtMs: DAY_MS });
  const partBytes = writer.stats.stagedBytes;
  // Rows are built before the clock starts (the CPU figures are the writer's, not the bench's).
  const inputs = Array.from({ length: 8 }, (_, i) => rowsOf(i + 1, rowsPerAppend));
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  // `inFlight` appends at a time, called in seq order (as overlapping callers do; group commit).
  const m = await measure(name, DURATION_MS, rowsPerAppend * inFlight, () =>
    Promise.all(
      Array.from({ length: inFlight }, () =>
        writer.append(inputs[seq % inputs.length]!, { seq: seq++, collectedAtMs: DAY_MS }),
      ),
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  const cpu1000 = {
    mainMs: ((mainThreadCpuMs() - main0) * 1000) / m.ops,
    allMs: ((cpu.user + cpu.system) / 1000 / m.ops) * 1000,
  };
  return { writer, m: { ...m, unit: 'rows/s' } as Measurement, partBytes, cpu1000 };
}

function printCpu(run: { m: Measurement; cpu1000: { mainMs: number; allMs: number } }): void {
  printFigure(`CPU ms per 1000 rows, ${run.m.name}`, run.cpu1000.allMs, 'ms', '(all threads)');
  printFigure('  of which the main thread', run.cpu1000.mainMs, 'ms', '(10 ms ticks)');
}

/** The previous design: every append copies the whole part, appends, fsyncs and renames it. */
async function copyOnWriteRun(dir: string, name: string, partBytes: number, text: string) {
  const path = join(dir, 'cow.csv');
  const filler = 'x'.repeat(399).concat('\n');
  await writeFile(path, filler.repeat(Math.ceil(partBytes / filler.length)));
  const m = await measure(name, DURATION_MS / 2, ROWS_PER_APPEND, async () => {
    await copyFile(path, `${path}.tmp`, constants.COPYFILE_FICLONE);
    await appendFile(`${path}.tmp`, text);
    await fsyncFile(`${path}.tmp`);
    await rename(`${path}.tmp`, path);
    await fsyncFile(dir);
  });
  return { ...m, unit: 'rows/s' } as Measurement;
}

async function main(): Promise<void> {
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const root = await mkdtemp(join(tmpdir(), 'mf-csv-writer-bench-'));
  try {
    const text = encodeCsvRows('S', rowsOf(1));
    const raw = join(root, 'raw.csv');
    await writeFile(raw, headerLine('S'));
    const baseline = {
      ...(await measure('raw fs.appendFile (same bytes, no fsync)', DURATION_MS / 2, ROWS_PER_APPEND, () =>
        appendFile(raw, text),
      )),
      unit: 'rows/s',
    };
    const synced = join(root, 'synced.csv');
    const durable = {
      ...(await measure('fs.appendFile + fsync', DURATION_MS / 2, ROWS_PER_APPEND, async () => {
        await appendFile(synced, text);
        await fsyncFile(synced);
      })),
      unit: 'rows/s',
    };
    const encodeOnly = {
      ...(await measure('encode only (csv-stringify, no file)', DURATION_MS / 4, ROWS_PER_APPEND, () =>
        encodeCsvRows('S', rowsOf(2)),
      )),
      unit: 'rows/s',
    };
    const small = await writerRun(join(root, 'small'), 'writer, 1 MiB parts', MiB, 0);
    const pool = new WorkerPool({ mode: 'workers', threads: availableParallelism() });
    let pooled: Awaited<ReturnType<typeof writerRun>>;
    let bigInline: Awaited<ReturnType<typeof writerRun>>;
    let bigPooled: Awaited<ReturnType<typeof writerRun>>;
    let bigPooledAhead: Awaited<ReturnType<typeof writerRun>>;
    try {
      pooled = await writerRun(
        join(root, 'pooled'),
        'writer, 1 MiB parts, forced through the pool',
        MiB,
        0,
        pool,
      );
      // Appends of 5,000 rows into a 256 MiB part: the batch the pool is for (one chunk per worker).
      bigInline = await writerRun(
        join(root, 'big-inline'),
        'writer, 5,000-row appends, inline',
        256 * MiB,
        0,
        undefined,
        5000,
      );
      bigPooled = await writerRun(
        join(root, 'big-pooled'),
        `writer, 5,000-row appends, worker pool (${pool.threads} threads)`,
        256 * MiB,
        0,
        pool,
        5000,
      );
      // Two appends in flight: the second's rows can encode while the first's are written and fsynced.
      bigPooledAhead = await writerRun(
        join(root, 'big-pooled-ahead'),
        `writer, 5,000-row appends, worker pool, 2 in flight`,
        256 * MiB,
        0,
        pool,
        5000,
        2,
      );
    } finally {
      await pool.close();
    }
    const large = await writerRun(
      join(root, 'large'),
      `writer, open part of ~${LARGE_PREFILL_BYTES / MiB} MiB (limit 256 MiB)`,
      256 * MiB,
      LARGE_PREFILL_BYTES,
    );
    const cowSmall = await copyOnWriteRun(
      join(root, 'small'),
      'previous design (copy per append), 0.5 MiB part',
      MiB / 2,
      text,
    );
    const cowLarge = await copyOnWriteRun(
      join(root, 'large'),
      `previous design (copy per append), ${LARGE_PREFILL_BYTES / MiB} MiB part`,
      LARGE_PREFILL_BYTES,
      text,
    );
    printRatios(`Append ${ROWS_PER_APPEND} S_ rows (${text.length} bytes) per call`, baseline, [
      durable,
      encodeOnly,
      small.m,
      pooled.m,
      large.m,
      cowSmall,
      cowLarge,
    ]);
    printRatios('Appends of 5,000 S_ rows, encoded inline or in the worker pool', baseline, [
      bigInline.m,
      bigPooled.m,
      bigPooledAhead.m,
    ]);
    printFigure('writer: pool / inline at 5,000-row appends', rate(bigPooled.m) / rate(bigInline.m), 'x');
    for (const run of [bigInline, bigPooled, bigPooledAhead]) printCpu(run);
    printFigure(
      'writer: large-part rate / small-part rate',
      rate(large.m) / rate(small.m),
      'x',
      'should be ~1',
    );
    printFigure('previous design: large / small', rate(cowLarge) / rate(cowSmall), 'x');

    // One publish of the large open part: what the coalesced copies cost, amortized.
    await large.writer.append(rowsOf(999_999), { seq: 999_999_999, collectedAtMs: DAY_MS });
    const partBytes = (await stat(join(root, 'large', '.S_2026-11-22_bench.csv.staging'))).size;
    const t0 = performance.now();
    await large.writer.flush();
    const publishMs = performance.now() - t0;
    printFigure(`publish (copy+fsync+rename) of a ${(partBytes / MiB).toFixed(0)} MiB part`, publishMs, 'ms');
    // Copies add at most publishCopyRatio (4) bytes per appended byte.
    const perRowMs = 1000 / rate(large.m) + (4 * (text.length / ROWS_PER_APPEND) * publishMs) / partBytes;
    const amortized: Measurement = {
      name: 'writer, large part, incl. amortized copies (bound)',
      ops: 1,
      elapsedMs: perRowMs,
      unit: 'rows/s',
    };
    printRatios('Steady state including coalesced publishing', baseline, [amortized]);
    const { stats } = large.writer;
    printFigure(
      'large run: copied bytes / staged bytes',
      stats.copiedBytes / stats.stagedBytes,
      'x',
      '(bound: 4)',
    );
    await small.writer.close();
    await pooled.writer.close();
    await bigInline.writer.close();
    await bigPooled.writer.close();
    await bigPooledAhead.writer.close();
    await large.writer.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  console.log(
    `load average at end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

await main();
