/**
 * The output writers' own rate (issue 7): readings/s through the integration sink's writers,
 * CsvConsumer (daily CSV files: staged rows, fsyncs, manifest) and CimPublisher (EventMessage
 * files, batches.log, the retained window), at the batch sizes the head-end hands them: 20
 * (a small TLog delivery), 480 (one load-profile job: 20 meters x 24 h) and 5,000 readings.
 * Baseline: the bare encoders on the same batches in the same run (csv-stringify rows of every
 * kind + CIM MeterReadings XML, one thread, no files), so the ratio is what the file work
 * costs on top of encoding: 1.0x means the writers are as fast as encoding alone.
 *
 * Two ways of calling them: one batch at a time (the cluster's HeadendDriver writes stream
 * entries strictly one after another) and 4 batches in flight (overlapping calls: the CSV
 * writers group-commit what arrives during an fsync, the publisher encodes while earlier
 * batches are written). The last rows encode in a 2-thread worker pool, as a node does.
 * Each batch: 30 readings per meter (24 hourly intervals -> S_, 6 daily-closure registers ->
 * DC_), so 5,000 readings carry ~4,000 S_ rows and ~330 DC_ rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CimPublisher } from '../actors/integration/cim-publisher.js';
import { CsvConsumer } from '../actors/integration/csv-consumer.js';
import type { OutputBatch } from '../actors/integration/output-batch.js';
import { encodeMeterReadings } from '../adapters/cim/meter-readings.js';
import { encodeCsvRows } from '../adapters/csv/codec.js';
import type { DailyKind } from '../adapters/csv/formats.js';
import { loadProfileRows, registerRows } from '../adapters/csv/rows.js';
import type { CollectedReading } from '../adapters/field-data.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import { ManualClock } from '../core/clock.js';
import { type Measurement, printFigure, printRatios, rate } from './support/report.js';

const DAY_MS = Date.UTC(2026, 10, 22);
const SIZES = [20, 480, 5000] as const;
const IN_FLIGHT = 4;
const RUN_MS = 2500;
const DISTINCT_BATCHES = 8;
const registers = ['1.8.0', '1.8.1', '1.8.2', '1.8.3', '1.8.4', '2.8.0'];

function readingsOf(count: number, batch: number): CollectedReading[] {
  const out: CollectedReading[] = [];
  for (let m = 0; out.length < count; m++) {
    const meterSerial = `UAAEEDN${String(batch).padStart(3, '0')}${String(m).padStart(6, '0')}`;
    const usagePoint = `IT001E${String(m).padStart(8, '0')}`;
    for (let h = 1; h <= 24 && out.length < count; h++)
      out.push({
        meterSerial,
        usagePoint,
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: (m * 31 + h * 17) % 900,
        unit: 'Wh',
        timestampMs: DAY_MS + h * 3_600_000,
        intervalSeconds: 3600,
      });
    for (const code of registers)
      if (out.length < count)
        out.push({
          meterSerial,
          usagePoint,
          kind: 'dailyClosure',
          quantity: { source: 'obis', code },
          value: 10_000 + m * 7 + code.length,
          unit: 'kWh',
          timestampMs: DAY_MS,
        });
  }
  return out;
}

function batchOf(readings: CollectedReading[]): OutputBatch {
  const csv: OutputBatch['csv'] = { S: loadProfileRows(readings) };
  const dc = registerRows(readings, 'dailyClosure');
  if (dc.length > 0) csv.DC = dc;
  return { csv, readings, events: [] };
}

/** The yardstick: every kind's rows through csv-stringify and the readings into CIM XML, no files. */
function bareEncoders(size: number, batches: readonly OutputBatch[]): Measurement {
  const clock = new ManualClock(DAY_MS);
  let ops = 0;
  const start = performance.now();
  for (let i = 0; performance.now() - start < RUN_MS / 2; i++) {
    const batch = batches[i % batches.length]!;
    for (const [kind, rows] of Object.entries(batch.csv)) encodeCsvRows(kind as DailyKind, rows);
    for (let r = 0; r < batch.readings.length; r += 5000)
      encodeMeterReadings(batch.readings.slice(r, r + 5000), {
        messageId: `m${i}-${r}`,
        source: 'n1',
        clock,
      });
    ops += batch.readings.length;
  }
  return {
    name: `bare encoders, ${size}-reading batches`,
    ops,
    elapsedMs: performance.now() - start,
    unit: 'readings/s',
  };
}

async function writers(
  root: string,
  size: number,
  batches: readonly OutputBatch[],
  inFlight: number,
  pool?: WorkerPool,
): Promise<Measurement & { groups: number; appends: number }> {
  const outDir = await mkdtemp(join(root, `w${size}-`));
  const clock = new ManualClock(DAY_MS);
  const options = { outDir, organization: 'BENCH', server: 'n1', clock, ...(pool ? { pool } : {}) };
  const csv = await CsvConsumer.open(options);
  const cim = await CimPublisher.open({ outDir, source: 'n1', clock, ...(pool ? { pool } : {}) });
  let seq = 0;
  let ops = 0;
  const one = async (): Promise<void> => {
    const s = ++seq;
    const batch = batches[s % batches.length]!;
    const written = await Promise.allSettled([csv.consume(batch, s, DAY_MS), cim.publish(batch, s)]);
    for (const w of written) if (w.status === 'rejected') throw w.reason;
    ops += batch.readings.length;
  };
  const start = performance.now();
  // `inFlight` callers, each starting its next batch when its last one is written.
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() - start < RUN_MS) await one();
    }),
  );
  const elapsedMs = performance.now() - start;
  await csv.flush();
  // Older writers (before group commit) have no counters: one commit per append.
  const commits = (csv as Partial<Pick<CsvConsumer, 'commits'>>).commits;
  const mode = inFlight === 1 ? 'one at a time' : `${inFlight} in flight`;
  return {
    name: `writers, ${size}-reading batches, ${mode}${pool ? `, pool ${pool.threads}` : ''}`,
    ops,
    elapsedMs,
    unit: 'readings/s',
    groups: commits?.groups ?? 1,
    appends: commits?.appends ?? 1,
  };
}

async function main(): Promise<void> {
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`load average at start: ${load()}`);
  const root = await mkdtemp(join(tmpdir(), 'mf-output-writers-bench-'));
  const pool = new WorkerPool({ mode: 'workers', threads: 2 });
  try {
    for (const size of SIZES) {
      const batches = Array.from({ length: DISTINCT_BATCHES }, (_, b) => batchOf(readingsOf(size, b)));
      const base = bareEncoders(size, batches);
      const rows: (Measurement & { groups: number; appends: number })[] = [];
      rows.push(await writers(root, size, batches, 1));
      rows.push(await writers(root, size, batches, IN_FLIGHT));
      if (size >= 480) rows.push(await writers(root, size, batches, IN_FLIGHT, pool));
      printRatios(`${size} readings per batch: writers vs the bare encoders`, base, rows);
      for (const r of rows)
        if (r.appends !== r.groups)
          printFigure(
            `${r.name.replace('writers, ', '')}: appends per commit`,
            r.appends / Math.max(1, r.groups),
            'x',
          );
      printFigure('best writer rate / bare encoders', Math.max(...rows.map(rate)) / rate(base), 'x');
    }
  } finally {
    await pool.close();
    await rm(root, { recursive: true, force: true });
  }
  console.log(`load average at end: ${load()}`);
}

await main();
