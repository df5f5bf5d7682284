import type { WorkerPool } from '../../cluster/pool/pool.js';
import type { Clock } from '../../core/clock.js';
import type { DailyKind } from './formats.js';
import { assertTimeZone } from './local-time.js';
import { CsvWriterStateError } from './writer-manifest.js';

/** DailyCsvWriter's options, result types and their checks (the writer is in daily-writer.ts). */

/**
 * Stages of an append, for fault injection: `written`: its rows are written to the staging
 * file (one writev), not yet fsynced or committed; `staged`: fsynced, manifest not yet
 * committed; `copied`: a publish copy is written, not yet renamed.
 */
export type WriterStage = 'written' | 'staged' | 'committed' | 'copied' | 'published';

export type DailyCsvWriterOptions = {
  dir: string;
  kind: DailyKind;
  /** Server (node) name in file names; letters, digits, '-' and '_' only. */
  server: string;
  /** Roll to a new part once a part would exceed this; default 256 MiB. */
  maxPartBytes?: number;
  /** Upper bound of rows per append; default 200,000. */
  maxBatchRows?: number;
  /** Rows one group commit takes from the queue (bounds the bytes encoded at once); default 200,000. */
  maxGroupRows?: number;
  /**
   * Rows queued or being committed. An append that would go beyond waits (in call order) until
   * earlier ones are committed, so a caller that awaits its appends is held back; default 400,000.
   * A single append larger than this still goes through alone.
   */
  maxQueuedRows?: number;
  /** Days kept in the manifest (older, finished days are never appended to again); default 14. */
  manifestDays?: number;
  /**
   * After an append, publish an open part's new rows at once when copying the part costs at
   * most this many times the bytes appended since its last copy. Default 4 (copies add at most
   * 4x the bytes written); `Infinity` publishes after every append (O(part size) each on
   * filesystems without reflinks).
   */
  publishCopyRatio?: number;
  /** Rows appended but not yet visible are published after at most this long; default 300,000 (5 min). */
  maxPublishLagMs?: number;
  /** IANA zone whose calendar day names the files (the server's); default UTC. */
  timeZone?: string;
  clock?: Clock;
  /**
   * Encode batches in the node's worker pool instead of inline: rows packed into columns,
   * one chunk per worker (adapters/csv/columnar-pool.ts), UTF-8 bytes moved back and written
   * as they are. The same bytes as inline encoding, the same errors.
   */
  pool?: CsvEncodePool;
  /**
   * Batches with fewer rows are encoded inline even with a pool; default 1000. Appends are
   * serial, and the pool mainly takes the encoding off this thread (a batch of 4,000 rows or
   * more is also split over the workers); for a small batch the hand-off to a worker and back
   * costs more than the encoding it moves
   * (bench/csv-writer.bench.ts: 500-row appends forced through the pool ran at 0.5-0.75x the
   * inline rate; 5,000-row appends at 1.0x, the writer being bound by its fsyncs).
   */
  poolMinRows?: number;
  /** Fault injection for crash tests: called after each stage of an append. */
  faultHook?: (stage: WriterStage, seq: number) => void;
};

/** What the writer needs of a WorkerPool. */
export type CsvEncodePool = Pick<WorkerPool, 'runPipelined' | 'threads'>;

export type AppendOptions = { seq: number; collectedAtMs?: number };
/** Bytes this writer moved since it was opened: what the cost claims in the README are checked against. */
export type WriterStats = {
  stagedBytes: number;
  copies: number;
  copiedBytes: number;
  renames: number;
};
export type AppendResult = { skipped: boolean; rows: number; files: string[] };

/** Refuses options outside their documented ranges before anything is opened. */
export function checkLimits(o: DailyCsvWriterOptions): void {
  if (o.timeZone !== undefined) assertTimeZone(o.timeZone);
  const bad = (name: string, value: unknown, rule: string) =>
    new CsvWriterStateError(`${name} must be ${rule}, got ${String(value)}`, { [name]: value });
  if (o.maxPartBytes !== undefined && !(Number.isSafeInteger(o.maxPartBytes) && o.maxPartBytes >= 256))
    throw bad('maxPartBytes', o.maxPartBytes, 'an integer of at least 256');
  for (const name of ['maxBatchRows', 'maxGroupRows', 'maxQueuedRows'] as const) {
    const value = o[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1))
      throw bad(name, value, 'a positive integer');
  }
  if (o.poolMinRows !== undefined && !(Number.isSafeInteger(o.poolMinRows) && o.poolMinRows >= 0))
    throw bad('poolMinRows', o.poolMinRows, 'a non-negative integer');
  if (o.manifestDays !== undefined && !(Number.isSafeInteger(o.manifestDays) && o.manifestDays >= 1))
    throw bad('manifestDays', o.manifestDays, 'a positive integer');
  if (o.publishCopyRatio !== undefined && !(o.publishCopyRatio >= 0))
    throw bad('publishCopyRatio', o.publishCopyRatio, '0 or more (Infinity: publish every append)');
  if (
    o.maxPublishLagMs !== undefined &&
    !(Number.isFinite(o.maxPublishLagMs) && o.maxPublishLagMs > 0 && o.maxPublishLagMs <= 2 ** 31 - 1)
  )
    throw bad('maxPublishLagMs', o.maxPublishLagMs, 'a positive number of ms below 2^31');
}
