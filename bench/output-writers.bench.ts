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
 *
 * "CIM only" rows run the CimPublisher alone: its message files (fsync before rename), one
 * directory fsync per noun and one batches.log append + fsync per commit, batches written while
 * a commit runs sharing the next one (issue 7: durable before published).
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
import { type Measurement, printFigure, printRatios } from './support/report.js';

const DAY_MS = Date.UTC(2026, 10, 22);
const SIZES = [20, 480, 5000] as const;
const IN_FLIGHT = 4;
/** Each configuration runs ROUNDS slices of SLICE_MS, interleaved with the baseline's. */
const ROUNDS = 6;
const SLICE_MS = 400;
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

/**
 * The yardstick: every kind's rows through csv-stringify and the readings into CIM XML, no
 * files. Runs for about `sliceMs` per call, so it can be interleaved with the writers.
 */
function bareSlice(batches: readonly OutputBatch[], sliceMs: number, into: Tally): void {
  const clock = new ManualClock(DAY_MS);
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; performance.now() - start < sliceMs; i++) {
    const batch = batches[i % batches.length]!;
    for (const [kind, rows] of Object.entries(batch.csv)) encodeCsvRows(kind as DailyKind, rows);
    for (let r = 0; r < batch.readings.length; r += 5000)
      encodeMeterReadings(batch.readings.slice(r, r + 5000), {
        messageId: `m${i}-${r}`,
        source: 'n1',
        clock,
      });
    into.ops += batch.readings.length;
  }
  into.elapsedMs += performance.now() - start;
  into.cpuMs += cpuMsSince(cpu);
}

type Tally = { ops: number; elapsedMs: number; cpuMs: number };
const tally = (): Tally => ({ ops: 0, elapsedMs: 0, cpuMs: 0 });

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/** CsvConsumer + CimPublisher over a fresh out dir; `slice` runs `inFlight` callers for about `sliceMs`. */
async function openWriters(
  root: string,
  size: number,
  batches: readonly OutputBatch[],
  pool?: WorkerPool,
  cimOnly = false,
) {
  const outDir = await mkdtemp(join(root, `w${size}-`));
  const clock = new ManualClock(DAY_MS);
  const options = { outDir, organization: 'BENCH', server: 'n1', clock, ...(pool ? { pool } : {}) };
  const csv = await CsvConsumer.open(options);
  const cim = await CimPublisher.open({ outDir, source: 'n1', clock, ...(pool ? { pool } : {}) });
  let seq = 0;
  const one = async (into: Tally): Promise<void> => {
    const s = ++seq;
    const batch = batches[s % batches.length]!;
    const written = await Promise.allSettled(
      cimOnly ? [cim.publish(batch, s)] : [csv.consume(batch, s, DAY_MS), cim.publish(batch, s)],
    );
    for (const w of written) if (w.status === 'rejected') throw w.reason;
    into.ops += batch.readings.length;
  };
  return {
    csv,
    cim,
    async slice(inFlight: number, sliceMs: number, into: Tally): Promise<void> {
      const start = performance.now();
      const cpu = process.cpuUsage();
      // `inFlight` callers, each handing in its next batch when its last one is written.
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (performance.now() - start < sliceMs) await one(into);
        }),
      );
      into.elapsedMs += performance.now() - start;
      into.cpuMs += cpuMsSince(cpu);
    },
  };
}

/** `cimOnly`: the CimPublisher alone (its files, directory and batches.log fsyncs), no CSV. */
type Config = { name: string; inFlight: number; pool?: WorkerPool; cimOnly?: boolean };

/**
 * Slices of the bare encoders and of each writer configuration, taken in turn, so a change of
 * the machine's load during the run shifts the baseline and the subjects alike.
 */
async function compare(root: string, size: number, configs: readonly Config[]): Promise<void> {
  const batches = Array.from({ length: DISTINCT_BATCHES }, (_, b) => batchOf(readingsOf(size, b)));
  const base = tally();
  const subjects = await Promise.all(
    configs.map(async (c) => ({
      config: c,
      tally: tally(),
      writers: await openWriters(root, size, batches, c.pool, c.cimOnly),
    })),
  );
  for (let round = 0; round < ROUNDS; round++) {
    bareSlice(batches, SLICE_MS, base);
    for (const s of subjects) await s.writers.slice(s.config.inFlight, SLICE_MS, s.tally);
  }
  const measurement = (name: string, t: Tally): Measurement => ({
    name,
    ops: t.ops,
    elapsedMs: t.elapsedMs,
    unit: 'readings/s',
  });
  const baseline = measurement(`bare encoders, ${size}-reading batches`, base);
  printRatios(
    `${size} readings per batch: writers vs the bare encoders`,
    baseline,
    subjects.map((s) => measurement(`writers, ${s.config.name}`, s.tally)),
  );
  const cpuPerReading = (t: Tally) => (t.cpuMs * 1000) / Math.max(1, t.ops);
  printFigure('bare encoders: CPU per reading', cpuPerReading(base), 'us');
  for (const s of subjects) {
    const { appends, groups } = s.writers.csv.commits;
    printFigure(
      `${s.config.name}: CPU per reading`,
      cpuPerReading(s.tally),
      'us',
      `${(cpuPerReading(s.tally) / cpuPerReading(base)).toFixed(2)}x encoders (process, incl. workers)`,
    );
    if (groups > 0 && appends !== groups)
      printFigure(`${s.config.name}: appends per commit`, appends / groups, 'x');
    const cim = s.writers.cim.commits;
    if (cim.commits > 0 && cim.batches !== cim.commits)
      printFigure(`${s.config.name}: CIM batches per commit`, cim.batches / cim.commits, 'x');
  }
  await Promise.all(subjects.map((s) => s.writers.csv.flush()));
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
      const configs: Config[] = [
        { name: `${size}-reading batches, one at a time`, inFlight: 1 },
        { name: `${size}-reading batches, ${IN_FLIGHT} in flight`, inFlight: IN_FLIGHT },
        { name: `CIM only, ${size}-reading batches, one at a time`, inFlight: 1, cimOnly: true },
        {
          name: `CIM only, ${size}-reading batches, ${IN_FLIGHT} in flight`,
          inFlight: IN_FLIGHT,
          cimOnly: true,
        },
      ];
      if (size >= 480)
        configs.push({
          name: `${size}-reading batches, ${IN_FLIGHT} in flight, pool 2`,
          inFlight: IN_FLIGHT,
          pool,
        });
      await compare(root, size, configs);
    }
  } finally {
    await pool.close();
    await rm(root, { recursive: true, force: true });
  }
  console.log(`load average at end: ${load()}`);
}

await main();
