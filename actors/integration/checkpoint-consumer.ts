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
} from '../reporting/store.js';
import type { RoutedRecord } from '../tlog/router.js';
import type { IntegrationState, StreamBatch } from './checkpoint-stream.js';
import { CimPublisher } from './cim-publisher.js';
import { CsvConsumer } from './csv-consumer.js';
import { buildOutputBatch } from './output-batch.js';
import { OrderFence } from './output-order.js';

/** The webhook dispatcher's "everything published so far is in the durable queues" step. */
export type DurableWebhookQueue = { flush(): Promise<void> };

/**
 * The integration consumers behind the replicated stream (checkpoint-stream.ts): a stream
 * entry is written to the daily CSV files and published as CIM messages with its stream
 * position as their seq, then acknowledged by the driver. The CSV writers record their last
 * seq on disk and CIM file names derive from it, so an entry replayed after a crash (written,
 * not yet acknowledged) neither adds rows nor adds messages.
 */
export class CheckpointConsumer {
  /** What was written in this process (the demo's summary). */
  readonly written = { positions: 0 };
  private webhook: DurableWebhookQueue | undefined;
  /** A position that failed before the writers saw it: later ones are refused until it is written. */
  private readonly fence = new OrderFence('the integration consumer');

  private constructor(
    readonly csv: CsvConsumer,
    readonly cim: CimPublisher,
    private readonly options: {
      outDir: string;
      organization: string;
      registry: () => RegistryState;
      onWritten?: (routed: readonly RoutedRecord[]) => void;
    },
  ) {}

  static async open(options: {
    outDir: string;
    organization: string;
    server: string;
    clock: Clock;
    /** The registry for usage points (the driver's copy). */
    registry: () => RegistryState;
    maxPartBytes?: number;
    /** The node's worker pool: daily CSV rows and CIM MeterReadings are encoded there. */
    pool?: CsvEncodePool;
    onWritten?: (routed: readonly RoutedRecord[]) => void;
  }): Promise<CheckpointConsumer> {
    const csv = await CsvConsumer.open(options);
    const cim = await CimPublisher.open({
      outDir: options.outDir,
      source: options.server,
      clock: options.clock,
      ...(options.pool ? { pool: options.pool } : {}),
    });
    return new CheckpointConsumer(csv, cim, options);
  }

  /**
   * A webhook dispatcher started on `cim`: from now on `write` resolves only once the entry's
   * messages are in its durable queues, so the driver never acknowledges an entry whose
   * webhook messages a crash could lose (the publisher would not publish them again).
   */
  attachWebhook(webhook: DurableWebhookQueue | undefined): void {
    this.webhook = webhook;
  }

  /**
   * Writes one stream entry (its batches in order) at `position`. Calls may overlap, in
   * position order: each is handed to the CSV writers' lanes and the CIM publisher before it
   * returns its promise, so they see positions in call order, and each of them (and this
   * consumer, for a failure before they saw the entry) refuses positions after one that failed
   * until that one is written again (OutputOrderError: actors/integration/output-order.ts).
   */
  readonly write = async (position: number, batches: readonly StreamBatch[]): Promise<void> => {
    this.fence.admit(position);
    let written: Promise<PromiseSettledResult<unknown>[]>;
    let routed: RoutedRecord[];
    // Positions are written in order: one at or below the highest any writer has is a replay.
    const fresh = position > this.csv.highestSeq;
    try {
      routed = batches.flatMap((b) => b.routed);
      if (routed.length === 0) return;
      const registry = this.options.registry();
      const batch = buildOutputBatch(routed, (serial, atMs) => usagePointAt(registry, serial, atMs));
      // The CSV writers and the CIM publisher each skip positions they have written, so they
      // need no order between them: their encoding, file writes and fsyncs overlap.
      written = Promise.allSettled([
        this.csv.consume(batch, position, batches[0]?.atMs ?? 0),
        this.cim.publish(batch, position),
      ]);
    } catch (err) {
      // Failed before the writers saw it: they would take the next position as the next one.
      this.fence.failed(position);
      throw err;
    }
    const failed = (await written).find((w) => w.status === 'rejected');
    if (failed) throw failed.reason;
    this.fence.written(position);
    await this.webhook?.flush();
    if (fresh) {
      this.written.positions++;
      this.options.onWritten?.(routed);
    }
  };

  /** Makes every row written so far visible in the CSV files (the writers coalesce publishing). */
  flush(): Promise<void> {
    return this.csv.flush();
  }

  /** The extraction and status-word reports of the day of `dayMs`, from the replicated facts. */
  async writeReports(
    integration: IntegrationState,
    registry: RegistryState,
    dayMs: number,
  ): Promise<string[]> {
    const { outDir, organization } = this.options;
    const write = (kind: ReportKind, rows: readonly CsvRow[]) =>
      writeReport(
        csvDir(outDir, organization, kind),
        kind,
        rows.map((row) => withAllColumns(kind, row)),
        dayMs,
        // *local columns on the wall clock of the row's concentrator (UTC when unknown or empty).
        {
          timeZoneOf: (row) => registry.concentrators[String(row.concentrator ?? '')]?.timeZone || undefined,
        },
      );
    const reporting = integration.reporting;
    return Promise.all([
      write('MeterAggregatedInfo', meterAggregatedInfoRows(reporting, registry)),
      write('MeterDCInfo', meterDcInfoRows(reporting, registry)),
      write('MeterReport', meterReportRows(registry)),
      write('ConcentratorInFieldReport', concentratorInFieldRows(reporting, registry)),
      write('MeterStatusWordReport', integration.statusWords),
    ]);
  }
}

/** Columns the head-end has no data for yet stay empty. */
function withAllColumns(kind: ReportKind, row: CsvRow): CsvRow {
  const out: CsvRow = {};
  for (const column of csvFormats[kind].columns) out[column] = row[column] ?? null;
  return out;
}
