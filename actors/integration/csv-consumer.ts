import { type CsvEncodePool, DailyCsvWriter } from '../../adapters/csv/daily-writer.js';
import type { DailyKind } from '../../adapters/csv/formats.js';
import { csvDir } from '../../adapters/csv/reports.js';
import type { Clock } from '../../core/clock.js';
import type { OutputBatch } from './output-batch.js';
import { KindLane } from './output-order.js';

/**
 * Writes output batches into the SMMePlus daily files, one DailyCsvWriter per kind. The
 * batch's stream position is the writer's seq, so replaying from a checkpoint after a crash
 * skips what was already written: every row exactly once. Given the node's worker pool, every
 * writer encodes its rows there (packed columns in, UTF-8 bytes back), inline otherwise.
 */
export class CsvConsumer {
  readonly rowsByKind: Partial<Record<DailyKind, number>> = {};
  /** Per kind, appends one at a time, later positions merged into the next (output-order.ts). */
  private readonly lanes = new Map<DailyKind, KindLane>();

  private constructor(private readonly writers: Map<DailyKind, DailyCsvWriter>) {
    for (const [kind, writer] of writers)
      this.lanes.set(
        kind,
        new KindLane(
          `the ${kind}_ CSV files`,
          (rows, options) => writer.append(rows, options),
          () => writer.lastSeq,
        ),
      );
  }

  static async open(options: {
    outDir: string;
    organization: string;
    server: string;
    clock: Clock;
    kinds?: DailyKind[];
    maxPartBytes?: number;
    /** The node's worker pool (cluster/pool): rows are encoded there instead of on this thread. */
    pool?: CsvEncodePool;
  }): Promise<CsvConsumer> {
    const writers = new Map<DailyKind, DailyCsvWriter>();
    for (const kind of options.kinds ?? (['S', 'DC', 'R', 'MP', 'PP', 'VV', 'SWE'] as DailyKind[])) {
      writers.set(
        kind,
        await DailyCsvWriter.open({
          dir: csvDir(options.outDir, options.organization, kind),
          kind,
          server: options.server,
          clock: options.clock,
          ...(options.maxPartBytes !== undefined ? { maxPartBytes: options.maxPartBytes } : {}),
          ...(options.pool ? { pool: options.pool } : {}),
        }),
      );
    }
    return new CsvConsumer(writers);
  }

  /** Replay input after this seq: no writer has written anything beyond what it covers. */
  get checkpoint(): number {
    return Math.min(...[...this.writers.values()].map((w) => w.lastSeq));
  }

  /** The highest seq any writer has written: new input must be numbered after it. */
  get highestSeq(): number {
    return Math.max(...[...this.writers.values()].map((w) => w.lastSeq));
  }

  /**
   * Appends the batch's rows to each kind's writer. The kinds are independent files with their
   * own seq, so their writes and fsyncs run concurrently; this resolves once every kind's rows
   * are durable (a failed kind rejects it, and the caller's replay rewrites only what that kind
   * lacks). Calls may overlap (in position order): a kind's positions that arrive while its last
   * append is being written go in its next append together (KindLane), and a kind that failed a
   * position refuses later ones until that one is written again (OutputOrderError).
   */
  async consume(batch: OutputBatch, seq: number, collectedAtMs: number): Promise<void> {
    const appends: Promise<void>[] = [];
    for (const [kind, lane] of this.lanes) {
      const rows = batch.csv[kind] ?? [];
      // A writer with nothing to write skips the seq (no manifest fsync): on replay it skips
      // what it wrote itself and gets nothing from the rest, so each row is still written once.
      if (rows.length === 0) continue;
      appends.push(
        lane.write(rows, seq, collectedAtMs).then((written) => {
          if (written > 0) this.rowsByKind[kind] = (this.rowsByKind[kind] ?? 0) + written;
        }),
      );
    }
    const settled = await Promise.allSettled(appends);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Makes every row written so far visible in the files (the writers coalesce publishing). */
  async flush(): Promise<void> {
    for (const writer of this.writers.values()) await writer.flush();
  }

  /** Appends the writers committed, and in how many group commits (fewer: appends were grouped). */
  get commits(): { appends: number; groups: number } {
    let appends = 0;
    let groups = 0;
    for (const w of this.writers.values()) {
      appends += w.queue.appends;
      groups += w.queue.groups;
    }
    return { appends, groups };
  }

  partsOf(kind: DailyKind, day: string): string[] {
    return this.writers.get(kind)?.partsOf(day) ?? [];
  }
}
