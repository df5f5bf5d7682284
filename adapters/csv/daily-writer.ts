import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerPool } from '../../cluster/pool/pool.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { publishCopy, publishRename, writeAtAndSync } from './atomic-file.js';
import { type CsvRow, encodeCsvRows, headerLine } from './codec.js';
import { encodeCsvRowsInPool } from './columnar-pool.js';
import type { DailyKind } from './formats.js';
import { assertTimeZone, localDayOf } from './local-time.js';
import { type PartChange, type PartState, planParts } from './part-plan.js';
import {
  CsvWriterStateError,
  loadManifest,
  type Manifest,
  saveManifest,
  stagingName,
} from './writer-manifest.js';
import { recoverParts } from './writer-recovery.js';

export { CsvWriterStateError } from './writer-manifest.js';

/**
 * One writer per daily file kind (S_, DC_, R_, VV_, PP_, MP_, SWE_) and server. Files are
 * `<KIND>_<yyyy-mm-dd>_<server>.csv`, further parts `<KIND>_<yyyy-mm-dd>_<server>.part<N>.csv`
 * once a part reaches `maxPartBytes`. The day is the day the data was COLLECTED (data recovered
 * for earlier days goes into today's file, as the seed specifies).
 *
 * Two files per open part, so that durability costs O(bytes appended) while a reader still
 * never sees half a row (README "Durability" states the guarantee):
 * - a hidden append-only staging file `.<part>.staging`: an append writes its rows at the
 *   committed offset and fsyncs it, then commits the manifest (last seq + each part's size);
 * - the visible file, only ever replaced whole by rename: by renaming the staging file itself
 *   once the part is full or its day is over (O(1)), and in between by a published copy
 *   (reflink where supported), coalesced so copies cost at most `publishCopyRatio` times the
 *   bytes appended, plus at most one per `maxPublishLagMs`, `flush()` and `close()`.
 * On open, a staging tail beyond the committed size (a crash mid-append) is cut and the
 * visible files are brought up to the committed state. `seq` makes replays exactly once.
 */
/** Stages of an append, for fault injection; `copied`: a publish copy is written, not yet renamed. */
export type WriterStage = 'staged' | 'committed' | 'copied' | 'published';

export type DailyCsvWriterOptions = {
  dir: string;
  kind: DailyKind;
  /** Server (node) name in file names; letters, digits, '-' and '_' only. */
  server: string;
  /** Roll to a new part once a part would exceed this; default 256 MiB. */
  maxPartBytes?: number;
  /** Upper bound of rows per append; default 200,000. */
  maxBatchRows?: number;
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

const serverPattern = /^[A-Za-z0-9_-]{1,64}$/;

export class DailyCsvWriter {
  private manifest: Manifest;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly maxPartBytes: number;
  private readonly clock: Clock;
  private lagTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters: WriterStats = { stagedBytes: 0, copies: 0, copiedBytes: 0, renames: 0 };

  private constructor(
    private readonly options: DailyCsvWriterOptions,
    manifest: Manifest,
  ) {
    this.manifest = manifest;
    this.maxPartBytes = options.maxPartBytes ?? 256 * 1024 * 1024;
    this.clock = options.clock ?? systemClock;
  }

  /** Opens (and if needed recovers) the writer's state in `dir`; visible files then hold every committed row. */
  static async open(options: DailyCsvWriterOptions): Promise<DailyCsvWriter> {
    if (!serverPattern.test(options.server))
      throw new CsvWriterStateError(
        `server name "${options.server}" must be 1-64 letters, digits, '-' or '_'`,
      );
    checkLimits(options);
    await mkdir(options.dir, { recursive: true });
    const loaded = await loadManifest(options.dir, options.kind, options.server);
    const { manifest, changed } = await recoverParts(options.dir, loaded);
    if (changed) await saveManifest(options.dir, manifest);
    const writer = new DailyCsvWriter(options, manifest);
    await writer.publish(true);
    return writer;
  }

  /** The seq of the last batch durably written; replay input after this. */
  get lastSeq(): number {
    return this.manifest.lastSeq;
  }

  /** Visible files of a day, in part order. */
  partsOf(day: string): string[] {
    return (this.manifest.days[day] ?? []).map((p) => join(this.options.dir, p.file));
  }

  get stats(): Readonly<WriterStats> {
    return { ...this.counters };
  }

  /** Committed rows not yet in a visible file (0 after flush()). */
  get unpublishedBytes(): number {
    let bytes = 0;
    for (const parts of Object.values(this.manifest.days))
      for (const p of parts) bytes += p.sizeBytes - p.publishedBytes;
    return bytes;
  }

  append(rows: readonly CsvRow[], options: AppendOptions): Promise<AppendResult> {
    return this.enqueue(() => this.appendNow(rows, options));
  }

  /** Makes every committed row visible now. */
  flush(): Promise<void> {
    return this.enqueue(() => this.publish(true));
  }

  /** Flushes and stops the publish timer; the writer takes no more appends. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.lagTimer) clearTimeout(this.lagTimer);
    this.lagTimer = undefined;
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async appendNow(
    rows: readonly CsvRow[],
    { seq, collectedAtMs }: AppendOptions,
  ): Promise<AppendResult> {
    if (this.closed) throw new CsvWriterStateError('the writer is closed; open a new one');
    if (!Number.isSafeInteger(seq) || seq < 0)
      throw new CsvWriterStateError(`append seq must be a non-negative integer, got ${seq}`);
    const maxBatchRows = this.options.maxBatchRows ?? 200_000;
    if (rows.length > maxBatchRows)
      throw new CsvWriterStateError(
        `a batch of ${rows.length} rows is over the ${maxBatchRows}-row limit; split it`,
        { rows: rows.length, maxBatchRows },
      );
    if (seq <= this.manifest.lastSeq) return { skipped: true, rows: 0, files: [] };
    const { dir, kind } = this.options;
    const day = localDayOf(collectedAtMs ?? this.clock.now(), this.options.timeZone ?? 'UTC');
    const whole = await this.encode(rows);
    const changes = planParts({
      parts: this.manifest.days[day] ?? [],
      header: headerLine(kind),
      maxPartBytes: this.maxPartBytes,
      whole,
      rowCount: rows.length,
      encodeRow: (i) => encodeCsvRows(kind, [rows[i]!]),
      nameOf: (n) => partName(this.options, day, n),
    });
    for (const c of changes)
      if (c.sizeBefore === 0 && (existsSync(join(dir, c.file)) || existsSync(join(dir, stagingName(c.file)))))
        throw new CsvWriterStateError(
          `${c.file} already exists but is not in the writer's manifest (is ${day} older than the ${this.options.manifestDays ?? 14} days it keeps?); refusing to overwrite it`,
          { file: c.file, day },
        );
    for (const c of changes) {
      await writeAtAndSync(join(dir, stagingName(c.file)), c.sizeBefore, c.text, c.sizeBefore === 0);
      this.counters.stagedBytes += c.sizeAfter - c.sizeBefore;
      this.options.faultHook?.('staged', seq);
    }
    await this.commit(seq, day, changes);
    this.options.faultHook?.('committed', seq);
    await this.publish(false);
    this.options.faultHook?.('published', seq);
    return { skipped: false, rows: rows.length, files: changes.map((c) => join(dir, c.file)) };
  }

  private async encode(rows: readonly CsvRow[]): Promise<string | Uint8Array> {
    const pool = this.options.pool;
    if (!pool || rows.length === 0 || rows.length < (this.options.poolMinRows ?? 1000))
      return encodeCsvRows(this.options.kind, rows);
    const chunks = await encodeCsvRowsInPool(pool, this.options.kind, rows);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /**
   * The new manifest after a staged append: sizes of the changed parts; every part of the day
   * but the last is full; open parts of earlier days are full (their day is over). Days beyond
   * `manifestDays` are dropped only once they were closed in the manifest before this one, so
   * a part is never forgotten while its staging file still holds rows.
   */
  private async commit(seq: number, day: string, changes: readonly PartChange[]): Promise<void> {
    const previous = this.manifest;
    const days: Record<string, PartState[]> = {};
    for (const [d, parts] of Object.entries(previous.days))
      days[d] = parts.map((p) => (d < day && p.state === 'open' ? { ...p, state: 'full' } : { ...p }));
    const parts = days[day] ?? [];
    for (const c of changes) {
      const i = parts.findIndex((p) => p.file === c.file);
      const publishedBytes = i >= 0 ? parts[i]!.publishedBytes : 0;
      const state: PartState = {
        file: c.file,
        sizeBytes: c.sizeAfter,
        rows: c.rowsAfter,
        state: 'open',
        publishedBytes,
      };
      if (i >= 0) parts[i] = state;
      else parts.push(state);
    }
    parts.forEach((p, i) => {
      if (i < parts.length - 1 && p.state === 'open') p.state = 'full';
    });
    days[day] = parts;
    const keep = new Set(
      Object.keys(days)
        .sort()
        .slice(-(this.options.manifestDays ?? 14)),
    );
    const wasClosed = (d: string) => (previous.days[d] ?? []).every((p) => p.state === 'closed');
    const next: Manifest = {
      ...previous,
      lastSeq: seq,
      days: Object.fromEntries(Object.entries(days).filter(([d]) => keep.has(d) || !wasClosed(d))),
    };
    await saveManifest(this.options.dir, next);
    this.manifest = next;
  }

  /**
   * Brings visible files up to the committed rows where due (all of them when `all`): full
   * parts by renaming their staging file, open parts by a published copy.
   */
  private async publish(all: boolean): Promise<void> {
    const { dir } = this.options;
    const ratio = this.options.publishCopyRatio ?? 4;
    let changed = false;
    const days: Record<string, PartState[]> = {};
    for (const [day, parts] of Object.entries(this.manifest.days)) {
      const out: PartState[] = [];
      days[day] = out;
      for (const part of parts) {
        const p = { ...part };
        const staging = join(dir, stagingName(p.file));
        const newBytes = p.sizeBytes - p.publishedBytes;
        if (p.state === 'full') {
          await publishRename(staging, join(dir, p.file));
          p.state = 'closed';
          p.publishedBytes = p.sizeBytes;
          this.counters.renames++;
          changed = true;
        } else if (p.state === 'open' && newBytes > 0 && (all || newBytes * ratio >= p.sizeBytes)) {
          await publishCopy(staging, join(dir, p.file), () =>
            this.options.faultHook?.('copied', this.manifest.lastSeq),
          );
          p.publishedBytes = p.sizeBytes;
          this.counters.copies++;
          this.counters.copiedBytes += p.sizeBytes;
          changed = true;
        }
        out.push(p);
      }
    }
    if (changed) {
      const next = { ...this.manifest, days };
      await saveManifest(dir, next);
      this.manifest = next;
    }
    this.scheduleLagPublish();
  }

  private scheduleLagPublish(): void {
    if (this.closed || this.unpublishedBytes === 0) {
      if (this.lagTimer) clearTimeout(this.lagTimer);
      this.lagTimer = undefined;
      return;
    }
    if (this.lagTimer) return;
    this.lagTimer = setTimeout(() => {
      this.lagTimer = undefined;
      // A failed timed publish is retried by the next append, flush() or timer.
      this.flush().catch(() => undefined);
    }, this.options.maxPublishLagMs ?? 300_000);
    this.lagTimer.unref();
  }
}

function checkLimits(o: DailyCsvWriterOptions): void {
  if (o.timeZone !== undefined) assertTimeZone(o.timeZone);
  const bad = (name: string, value: unknown, rule: string) =>
    new CsvWriterStateError(`${name} must be ${rule}, got ${String(value)}`, { [name]: value });
  if (o.maxPartBytes !== undefined && !(Number.isSafeInteger(o.maxPartBytes) && o.maxPartBytes >= 256))
    throw bad('maxPartBytes', o.maxPartBytes, 'an integer of at least 256');
  if (o.maxBatchRows !== undefined && !(Number.isSafeInteger(o.maxBatchRows) && o.maxBatchRows >= 1))
    throw bad('maxBatchRows', o.maxBatchRows, 'a positive integer');
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

export function partName(
  o: Pick<DailyCsvWriterOptions, 'kind' | 'server'>,
  day: string,
  part: number,
): string {
  return part === 1 ? `${o.kind}_${day}_${o.server}.csv` : `${o.kind}_${day}_${o.server}.part${part}.csv`;
}
