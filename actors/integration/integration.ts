import type { CsvRow } from '../../adapters/csv/codec.js';
import type { CsvEncodePool } from '../../adapters/csv/daily-writer.js';
import { csvFormats, type ReportKind } from '../../adapters/csv/formats.js';
import { csvDir, writeReport } from '../../adapters/csv/reports.js';
import type { Clock } from '../../core/clock.js';
import { usagePointAt } from '../registry/queries.js';
import type { RegistryState } from '../registry/types.js';
import {
  concentratorInFieldRows,
  meterAggregatedInfoRows,
  meterDcInfoRows,
  meterReportRows,
  type ReportingState,
} from '../reporting/store.js';
import type { RoutedRecord } from '../tlog/router.js';
import type { DurableWebhookQueue } from './checkpoint-consumer.js';
import { CimPublisher } from './cim-publisher.js';
import { CsvConsumer } from './csv-consumer.js';
import { buildOutputBatch } from './output-batch.js';

/**
 * The integration service's stream consumer: routed batches in stream order get a position
 * (seq), then go to the daily CSV writers and the CIM publisher. Both skip positions they
 * have already written, so replaying the stream from the lower of their checkpoints after a
 * crash delivers everything exactly once.
 */
/** Status word samples kept for the MeterStatusWordReport by default (about 100 bytes each). */
export const defaultMaxStatusWordSamples = 512_000;

export class IntegrationConsumer {
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;
  /** Status word samples seen, for the MeterStatusWordReport. */
  private readonly statusWords: {
    concentrator: string;
    serialnumber: string;
    statusword: string;
    time: number;
  }[] = [];

  private constructor(
    readonly csv: CsvConsumer,
    readonly cim: CimPublisher,
    private readonly registry: RegistryState,
    private readonly options: {
      outDir: string;
      organization: string;
      clock: Clock;
      maxStatusWordSamples?: number;
      maxWritesInFlight?: number;
    },
  ) {}

  static async open(options: {
    outDir: string;
    organization: string;
    server: string;
    clock: Clock;
    registry: RegistryState;
    maxPartBytes?: number;
    /** The node's worker pool: daily CSV rows and CIM MeterReadings are encoded there. */
    pool?: CsvEncodePool;
    /** Status word samples kept for the MeterStatusWordReport; the oldest go first. */
    maxStatusWordSamples?: number;
    /**
     * Writes started before the previous ones finished (default 2): the next write encodes
     * while the last one waits for its fsyncs, and the CSV writers commit them together. 1
     * writes one at a time. Pending input is held by the caller's records meanwhile.
     */
    maxWritesInFlight?: number;
  }): Promise<IntegrationConsumer> {
    const csv = await CsvConsumer.open(options);
    const cim = await CimPublisher.open({
      outDir: options.outDir,
      source: options.server,
      clock: options.clock,
      ...(options.pool ? { pool: options.pool } : {}),
    });
    const consumer = new IntegrationConsumer(csv, cim, options.registry, options);
    // Seqs continue after the highest one written: a writer that skipped empty seqs
    // must not mistake new input for input it already has.
    consumer.seq = Math.max(csv.highestSeq, cim.lastPublishedSeq) + 1;
    return consumer;
  }

  private pending: RoutedRecord[] = [];
  private scheduled: Promise<void> | undefined;
  /** Writes started and not finished; waiters for a free slot. */
  private readonly running = new Set<Promise<void>>();
  private readonly slotWaiters: (() => void)[] = [];
  private mostInFlight = 0;
  private webhook: DurableWebhookQueue | undefined;

  /** A webhook dispatcher started on `cim`: a sink call resolves once its messages are in its durable queues. */
  attachWebhook(webhook: DurableWebhookQueue | undefined): void {
    this.webhook = webhook;
  }

  /** The most writes that were in flight at once (bounded by maxWritesInFlight). */
  get writesInFlightHighWater(): number {
    return this.mostInFlight;
  }

  /**
   * The sink for LocalHeadend. Batches arriving while a write waits for a slot are coalesced
   * into one write (each CSV append costs fsyncs, so many tiny appends would dominate), and
   * writes start strictly in arrival order (their seqs in order). Up to `maxWritesInFlight`
   * run at once: the CSV writers and the CIM publisher keep them in seq order. A sink call
   * resolves once its records are written.
   */
  readonly sink = (routed: RoutedRecord[]): Promise<void> => {
    this.pending.push(...routed);
    if (this.scheduled) return this.scheduled;
    const started = this.chain
      .then(() => this.freeSlot())
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    const run = started.then(() => {
      const batch = this.pending;
      this.pending = [];
      this.scheduled = undefined;
      const write = this.write(batch, this.seq++, this.options.clock.now());
      this.running.add(write);
      this.mostInFlight = Math.max(this.mostInFlight, this.running.size);
      return write.finally(() => {
        this.running.delete(write);
        this.slotWaiters.shift()?.();
      });
    });
    this.scheduled = run;
    // The next write waits for this one to start (and for a free slot), not to finish.
    this.chain = started.catch(() => undefined);
    return run;
  };

  private freeSlot(): Promise<void> | undefined {
    if (this.running.size < Math.max(1, this.options.maxWritesInFlight ?? 2)) return undefined;
    return new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  private async write(routed: RoutedRecord[], seq: number, collectedAtMs: number): Promise<void> {
    const batch = buildOutputBatch(routed, (serial, atMs) => usagePointAt(this.registry, serial, atMs));
    for (const { record } of routed)
      if (record.type === 'statusWord')
        this.rememberStatusWord({
          concentrator: record.concentratorId,
          serialnumber: record.meterSerial,
          statusword: record.word.toString(16).toUpperCase().padStart(8, '0'),
          time: record.timestampMs,
        });
    // The CSV writers and the CIM publisher each skip positions they have written, so they
    // need no order between them: their file writes and fsyncs overlap.
    // allSettled: a failure is reported only once both are done, never while one still writes.
    const written = await Promise.allSettled([
      this.csv.consume(batch, seq, collectedAtMs),
      this.cim.publish(batch, seq),
    ]);
    const failed = written.find((w) => w.status === 'rejected');
    if (failed) throw failed.reason;
    await this.webhook?.flush();
  }

  /** Bounded: beyond maxStatusWordSamples the oldest sixteenth goes (the report covers recent days). */
  private rememberStatusWord(sample: IntegrationConsumer['statusWords'][number]): void {
    this.statusWords.push(sample);
    const max = this.options.maxStatusWordSamples ?? defaultMaxStatusWordSamples;
    if (this.statusWords.length > max)
      this.statusWords.splice(0, this.statusWords.length - max + Math.floor(max / 16));
  }

  /** Waits for every batch handed in so far to be written and visible in the CSV files. */
  async flush(): Promise<void> {
    await this.chain;
    await (this.scheduled ?? Promise.resolve()).catch(() => undefined);
    await Promise.allSettled([...this.running]);
    await this.csv.flush();
  }

  /** Writes the extraction and status-word reports of the day of `dayMs`. */
  async writeReports(reporting: ReportingState, dayMs: number): Promise<string[]> {
    const { outDir, organization } = this.options;
    const write = (kind: ReportKind, rows: readonly CsvRow[]) =>
      writeReport(
        csvDir(outDir, organization, kind),
        kind,
        rows.map((row) => withAllColumns(kind, row)),
        dayMs,
        // *local columns on the wall clock of the row's concentrator (UTC when unknown).
        {
          timeZoneOf: (row) =>
            this.registry.concentrators[String(row.concentrator ?? '')]?.timeZone || undefined,
        },
      );
    return Promise.all([
      write('MeterAggregatedInfo', meterAggregatedInfoRows(reporting, this.registry)),
      write('MeterDCInfo', meterDcInfoRows(reporting, this.registry)),
      write('MeterReport', meterReportRows(this.registry)),
      write('ConcentratorInFieldReport', concentratorInFieldRows(reporting, this.registry)),
      write('MeterStatusWordReport', this.statusWords),
    ]);
  }
}

/** Columns the head-end has no data for yet (repeaters, firmware diagnostics ...) stay empty. */
function withAllColumns(kind: ReportKind, row: CsvRow): CsvRow {
  const out: CsvRow = {};
  for (const column of csvFormats[kind].columns) out[column] = row[column] ?? null;
  return out;
}
