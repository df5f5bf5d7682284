/**
 * CIM XML encode (readings/s) and SMMePlus CSV encode (rows/s): the real encoders on the main
 * thread and through the worker pool, each as a ratio to a plain string-concatenation encoder
 * of the SAME output measured in the same run (checked byte for byte before timing).
 * Target: the pool reaches >= 1.6x the main-thread rate on 2 cores. The pool can only show
 * that when the cores are otherwise idle: with Linux autogroup scheduling all threads of this
 * process share one group's CPU share, so on a box busy with other sessions extra worker
 * threads buy no extra CPU. The load average is printed for that reason.
 */
import { availableParallelism, loadavg } from 'node:os';
import { encodeMeterReadings } from '../adapters/cim/meter-readings.js';
import type { MeterReadingsJob } from '../adapters/cim/pool-tasks.js';
import { type CsvRow, encodeCsvRows, formatCsvTimestamp } from '../adapters/csv/codec.js';
import type { CsvEncodeJob } from '../adapters/csv/pool-tasks.js';
import type { CollectedReading } from '../adapters/field-data.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import { type Measurement, printFigure, printRatios, rate } from './support/report.js';

const METERS_PER_MESSAGE = 40;
const HOURS = 24;
const JOBS_PER_STEP = 8;
const DURATION_MS = 4000; // per subject: each table runs its three subjects interleaved for 3 x this
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
function concatMeterReadings(readings: CollectedReading[], messageId: string, timestampMs: number): string {
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
 * Runs the subjects' steps round-robin for about `durationMs` and sums each one's time. On a
 * shared, busy machine the load drifts within seconds; interleaving exposes every subject to
 * the same drift, which back-to-back blocks would not.
 */
async function interleaved(durationMs: number, subjects: Subject[]): Promise<Measurement[]> {
  const totals = subjects.map((s) => ({ name: s.name, unit: s.unit, ops: 0, elapsedMs: 0 }));
  const start = performance.now();
  while (performance.now() - start < durationMs)
    for (const [i, subject] of subjects.entries()) {
      const t0 = performance.now();
      await subject.step();
      totals[i]!.elapsedMs += performance.now() - t0;
      totals[i]!.ops += subject.opsPerStep;
    }
  return totals;
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

async function main(): Promise<void> {
  const threads = availableParallelism();
  const pool = new WorkerPool({ mode: 'workers', threads });
  try {
    const jobs: MeterReadingsJob[] = Array.from({ length: JOBS_PER_STEP }, (_, i) => ({
      readings: readingsFor(i),
      options: { source: 'bench', messageId: `m-${i}`, timestampMs: DAY_MS, profile: 'seed-compat' },
    }));
    const readingsPerStep = jobs.reduce((n, j) => n + j.readings.length, 0);
    const clockOf = (ms: number) => ({ now: () => ms });
    for (const job of jobs) {
      const ours = encodeMeterReadings(job.readings, { ...job.options, clock: clockOf(DAY_MS) });
      if (ours !== concatMeterReadings(job.readings, job.options.messageId!, DAY_MS))
        throw new Error('bench: the concatenation baseline does not produce the same XML');
    }
    console.log(`load average (1 min): ${loadavg()[0]!.toFixed(1)} on ${threads} cores`);
    console.log(
      `CIM MeterReadings: ${JOBS_PER_STEP} messages x ${readingsPerStep / JOBS_PER_STEP} readings per step, ${threads} threads`,
    );
    // Warm the workers (module import, JIT) before timing them.
    for (let i = 0; i < 3; i++)
      await Promise.all(
        jobs.map((job) =>
          pool.run({ module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsMessages', payload: [job] }),
        ),
      );
    const [xmlBase, xmlMain, xmlPool] = (await interleaved(DURATION_MS * 3, [
      {
        name: 'string concatenation (main thread)',
        unit: 'readings/s',
        opsPerStep: readingsPerStep,
        step: () => {
          for (const job of jobs) concatMeterReadings(job.readings, job.options.messageId!, DAY_MS);
        },
      },
      {
        name: 'encodeMeterReadings (main thread)',
        unit: 'readings/s',
        opsPerStep: readingsPerStep,
        step: () => {
          for (const job of jobs)
            encodeMeterReadings(job.readings, { ...job.options, clock: clockOf(DAY_MS) });
        },
      },
      {
        name: `encodeMeterReadings (pool, ${threads} workers)`,
        unit: 'readings/s',
        opsPerStep: readingsPerStep,
        step: () =>
          Promise.all(
            jobs.map((job) =>
              pool.run(
                { module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsMessages', payload: [job] },
                { wait: true },
              ),
            ),
          ),
      },
    ])) as [Measurement, Measurement, Measurement];
    printRatios('CIM XML encode', xmlBase, [xmlMain, xmlPool]);
    printFigure('pool / main thread', rate(xmlPool) / rate(xmlMain), 'x', 'target >= 1.6x on 2 cores');

    const csvJobs: CsvEncodeJob[] = Array.from({ length: JOBS_PER_STEP }, (_, i) => ({
      kind: 'S',
      rows: csvRowsFor(i),
    }));
    const rowsPerStep = csvJobs.reduce((n, j) => n + j.rows.length, 0);
    for (const job of csvJobs)
      if (encodeCsvRows('S', job.rows) !== concatCsv(job.rows))
        throw new Error('bench: the CSV baseline does not produce the same text');
    console.log(`\nCSV S_ rows: ${JOBS_PER_STEP} chunks x ${rowsPerStep / JOBS_PER_STEP} rows per step`);
    for (let i = 0; i < 3; i++)
      await Promise.all(
        csvJobs.map((job) =>
          pool.run({ module: 'adapters/csv/pool-tasks', fn: 'encodeRowChunks', payload: [job] }),
        ),
      );
    const [csvBase, csvMain, csvPool] = (await interleaved(DURATION_MS * 3, [
      {
        name: 'string concatenation (main thread)',
        unit: 'rows/s',
        opsPerStep: rowsPerStep,
        step: () => {
          for (const job of csvJobs) concatCsv(job.rows);
        },
      },
      {
        name: 'csv-stringify encoder (main thread)',
        unit: 'rows/s',
        opsPerStep: rowsPerStep,
        step: () => {
          for (const job of csvJobs) encodeCsvRows(job.kind, job.rows);
        },
      },
      {
        name: `csv-stringify encoder (pool, ${threads} workers)`,
        unit: 'rows/s',
        opsPerStep: rowsPerStep,
        step: () =>
          Promise.all(
            csvJobs.map((job) =>
              pool.run(
                { module: 'adapters/csv/pool-tasks', fn: 'encodeRowChunks', payload: [job] },
                { wait: true },
              ),
            ),
          ),
      },
    ])) as [Measurement, Measurement, Measurement];
    printRatios('CSV encode', csvBase, [csvMain, csvPool]);
    printFigure('pool / main thread', rate(csvPool) / rate(csvMain), 'x', 'target >= 1.6x on 2 cores');
  } finally {
    await pool.close();
  }
}

await main();
