/**
 * CIM XML encode (readings/s) and SMMePlus CSV encode (rows/s): the real encoders on the main
 * thread and through the worker pool, each as a ratio to a plain string-concatenation encoder
 * of the SAME output measured in the same run (checked byte for byte before timing).
 * Target: the pool reaches >= 1.6x the main-thread rate on 2 cores.
 */
import { availableParallelism } from 'node:os';
import { encodeMeterReadings } from '../adapters/cim/meter-readings.js';
import type { MeterReadingsJob } from '../adapters/cim/pool-tasks.js';
import { type CsvRow, encodeCsvRows, formatCsvTimestamp } from '../adapters/csv/codec.js';
import type { CsvEncodeJob } from '../adapters/csv/pool-tasks.js';
import type { CollectedReading } from '../adapters/field-data.js';
import { WorkerPool } from '../cluster/pool/pool.js';
import { type Measurement, measure, printFigure, printRatios, rate } from './support/report.js';

const METERS_PER_MESSAGE = 40;
const HOURS = 24;
const JOBS_PER_STEP = 8;
const DURATION_MS = 4000;
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
    console.log(
      `CIM MeterReadings: ${JOBS_PER_STEP} messages x ${readingsPerStep / JOBS_PER_STEP} readings per step, ${threads} threads`,
    );
    const xmlBase = await measure('string concatenation (main thread)', DURATION_MS, readingsPerStep, () => {
      for (const job of jobs) concatMeterReadings(job.readings, job.options.messageId!, DAY_MS);
    });
    const xmlMain = await measure('encodeMeterReadings (main thread)', DURATION_MS, readingsPerStep, () => {
      for (const job of jobs) encodeMeterReadings(job.readings, { ...job.options, clock: clockOf(DAY_MS) });
    });
    // Warm the workers (module import, JIT) before timing them.
    await Promise.all(
      jobs.map((job) =>
        pool.run({ module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsMessages', payload: [job] }),
      ),
    );
    const xmlPool = await measure(
      `encodeMeterReadings (pool, ${threads} workers)`,
      DURATION_MS,
      readingsPerStep,
      () =>
        Promise.all(
          jobs.map((job) =>
            pool.run(
              { module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsMessages', payload: [job] },
              { wait: true },
            ),
          ),
        ),
    );
    for (const m of [xmlBase, xmlMain, xmlPool]) m.unit = 'readings/s';
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
    const csvBase = await measure('string concatenation (main thread)', DURATION_MS, rowsPerStep, () => {
      for (const job of csvJobs) concatCsv(job.rows);
    });
    const csvMain = await measure('csv-stringify encoder (main thread)', DURATION_MS, rowsPerStep, () => {
      for (const job of csvJobs) encodeCsvRows(job.kind, job.rows);
    });
    await Promise.all(
      csvJobs.map((job) =>
        pool.run({ module: 'adapters/csv/pool-tasks', fn: 'encodeRowChunks', payload: [job] }),
      ),
    );
    const csvPool: Measurement = await measure(
      `csv-stringify encoder (pool, ${threads} workers)`,
      DURATION_MS,
      rowsPerStep,
      () =>
        Promise.all(
          csvJobs.map((job) =>
            pool.run(
              { module: 'adapters/csv/pool-tasks', fn: 'encodeRowChunks', payload: [job] },
              { wait: true },
            ),
          ),
        ),
    );
    for (const m of [csvBase, csvMain, csvPool]) m.unit = 'rows/s';
    printRatios('CSV encode', csvBase, [csvMain, csvPool]);
    printFigure('pool / main thread', rate(csvPool) / rate(csvMain), 'x', 'target >= 1.6x on 2 cores');
  } finally {
    await pool.close();
  }
}

await main();
