import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, systemClock } from '../../core/clock.js';
import { makeDirectory } from '../../core/fs/make-directory.js';
import { publishCopy, publishRename, writeAtAndSync } from './atomic-file.js';
import { type CsvRow, encodeCsvRows, headerLine } from './codec.js';
import { encodeCsvRowsInPool } from './columnar-pool.js';
import {
  type AppendOptions,
  type AppendResult,
  checkLimits,
  type DailyCsvWriterOptions,
  type WriterStats,
} from './daily-writer-options.js';
import { localDayOf } from './local-time.js';
import { nextManifest, stagingWrites } from './manifest-next.js';
import { type EncodedRows, type PartChange, type PartState, planParts } from './part-plan.js';
import {
  CsvWriterStateError,
  commitManifest,
  loadManifest,
  type Manifest,
  saveManifest,
  stageManifest,
  stagingName,
} from './writer-manifest.js';
import { recoverParts } from './writer-recovery.js';

export type {
  AppendOptions,
  AppendResult,
  CsvEncodePool,
  DailyCsvWriterOptions,
  WriterStage,
  WriterStats,
} from './daily-writer-options.js';
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
 *
 * Group commit: appends that arrive while a commit is in flight wait in a queue and are
 * committed together by the next one (one write and one fsync per staging file, one manifest
 * for all of them, whose lastSeq is the group's last seq). Each append's promise resolves only
 * after the commit that covers it, so a caller that acknowledges on resolve acknowledges only
 * durable rows. The manifest's temp file is fsynced while the rows are, and renamed only once
 * both are durable: two fsync latencies per commit instead of three.
 */
type QueuedAppend = AppendOptions & {
  rows: readonly CsvRow[];
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
  /** Its encoding in the pool, started when it was queued (encoding ahead; see queueAppend). */
  encoded?: Promise<EncodedRows>;
};

const serverPattern = /^[A-Za-z0-9_-]{1,64}$/;

export class DailyCsvWriter {
  private manifest: Manifest;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly maxPartBytes: number;
  private readonly clock: Clock;
  private lagTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters: WriterStats = { stagedBytes: 0, copies: 0, copiedBytes: 0, renames: 0 };
  /** Appends waiting for the next group commit, in call order. */
  private pending: QueuedAppend[] = [];
  /** Appends held back by maxQueuedRows, in call order. */
  private readonly waiting: QueuedAppend[] = [];
  private rowsQueued = 0;
  private groupScheduled = false;
  private maxQueued = 0;
  private groups = 0;
  private committed = 0;

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
    await makeDirectory(options.dir);
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

  /** Rows queued or being committed now; the most ever queued; appends committed, in how many group commits. */
  get queue(): { rows: number; maxRows: number; appends: number; groups: number } {
    return { rows: this.rowsQueued, maxRows: this.maxQueued, appends: this.committed, groups: this.groups };
  }

  /** Committed rows not yet in a visible file (0 after flush()). */
  get unpublishedBytes(): number {
    let bytes = 0;
    for (const parts of Object.values(this.manifest.days))
      for (const p of parts) bytes += p.sizeBytes - p.publishedBytes;
    return bytes;
  }

  /** Resolves once the rows are durable (committed) and published where due; see group commit above. */
  append(rows: readonly CsvRow[], options: AppendOptions): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      const entry: QueuedAppend = { rows, ...options, resolve, reject };
      if (this.waiting.length === 0 && this.fits(rows.length)) this.queueAppend(entry);
      else this.waiting.push(entry);
    });
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

  private fits(rows: number): boolean {
    return this.rowsQueued === 0 || this.rowsQueued + rows <= (this.options.maxQueuedRows ?? 400_000);
  }

  private queueAppend(entry: QueuedAppend): void {
    this.rowsQueued += entry.rows.length;
    this.maxQueued = Math.max(this.maxQueued, this.rowsQueued);
    // Encoding ahead: with a pool, a queued append's rows go to the workers now, so they encode
    // while the commit in flight writes and fsyncs (instead of after it, with the workers idle).
    // Bounded by maxQueuedRows like the queue itself. Only commits stay in call order; an
    // append found invalid or already written when its group runs just drops its bytes.
    if (this.usesPool(entry.rows) && this.invalid(entry) === undefined) {
      entry.encoded = this.encode(entry.rows);
      // Settled by writeGroup; until then a failure must not count as unhandled.
      entry.encoded.catch(() => undefined);
    }
    this.pending.push(entry);
    this.scheduleGroup();
  }

  private scheduleGroup(): void {
    if (this.groupScheduled || this.pending.length === 0) return;
    this.groupScheduled = true;
    void this.enqueue(() => this.commitGroup());
  }

  /** Takes what is queued now (up to maxGroupRows rows) and commits it as one group. */
  private async commitGroup(): Promise<void> {
    this.groupScheduled = false;
    const maxGroupRows = this.options.maxGroupRows ?? 200_000;
    let take = 1;
    let rows = this.pending[0]?.rows.length ?? 0;
    while (take < this.pending.length && rows + this.pending[take]!.rows.length <= maxGroupRows)
      rows += this.pending[take++]!.rows.length;
    const group = this.pending.splice(0, take);
    this.scheduleGroup();
    try {
      await this.writeGroup(group);
    } finally {
      this.rowsQueued -= rows;
      while (this.waiting.length > 0 && this.fits(this.waiting[0]!.rows.length))
        this.queueAppend(this.waiting.shift()!);
    }
  }

  /**
   * Validates and encodes each append of the group (one that fails is rejected alone), folds
   * them into one manifest in order, writes each staging file once, fsyncs, commits, publishes.
   */
  private async writeGroup(group: readonly QueuedAppend[]): Promise<void> {
    const { dir, kind } = this.options;
    const accepted: QueuedAppend[] = [];
    let lastSeq = this.manifest.lastSeq;
    for (const entry of group) {
      const invalid = this.invalid(entry);
      if (invalid) entry.reject(invalid);
      else if (entry.seq <= lastSeq) entry.resolve({ skipped: true, rows: 0, files: [] });
      else {
        accepted.push(entry);
        lastSeq = entry.seq;
      }
    }
    const encoded = await Promise.allSettled(accepted.map((e) => e.encoded ?? this.encode(e.rows)));
    let next = this.manifest;
    const planned: { entry: QueuedAppend; changes: PartChange[] }[] = [];
    for (const [i, entry] of accepted.entries()) {
      const whole = encoded[i]!;
      if (whole.status === 'rejected') {
        entry.reject(whole.reason);
        continue;
      }
      const day = localDayOf(entry.collectedAtMs ?? this.clock.now(), this.options.timeZone ?? 'UTC');
      const changes = planParts({
        parts: next.days[day] ?? [],
        header: headerLine(kind),
        maxPartBytes: this.maxPartBytes,
        whole: whole.value,
        rowCount: entry.rows.length,
        encodeRow: (r) => encodeCsvRows(kind, [entry.rows[r]!]),
        nameOf: (n) => partName(this.options, day, n),
      });
      const clash = changes.find(
        (c) =>
          c.sizeBefore === 0 && (existsSync(join(dir, c.file)) || existsSync(join(dir, stagingName(c.file)))),
      );
      if (clash) {
        entry.reject(
          new CsvWriterStateError(
            `${clash.file} already exists but is not in the writer's manifest (is ${day} older than the ${this.options.manifestDays ?? 14} days it keeps?); refusing to overwrite it`,
            { file: clash.file, day },
          ),
        );
        continue;
      }
      next = nextManifest(next, entry.seq, day, changes, this.options.manifestDays ?? 14);
      planned.push({ entry, changes });
    }
    if (planned.length === 0) return;
    this.groups++;
    try {
      const writes = stagingWrites(planned.flatMap((p) => p.changes));
      // The rows and the new manifest's temp file are fsynced together; the rename that commits
      // them waits for both, so a manifest never names rows that are not durable.
      const faultHook = this.options.faultHook;
      const afterWrite =
        faultHook &&
        (() => {
          for (const p of planned) faultHook('written', p.entry.seq);
        });
      await Promise.all([
        ...writes.map((w) =>
          writeAtAndSync(join(dir, stagingName(w.file)), w.offsetBytes, w.chunks, w.create, afterWrite),
        ),
        stageManifest(dir, next),
      ]);
      for (const w of writes) this.counters.stagedBytes += w.sizeBytes;
      for (const p of planned) this.options.faultHook?.('staged', p.entry.seq);
      await commitManifest(dir, next);
      this.manifest = next;
      for (const p of planned) this.options.faultHook?.('committed', p.entry.seq);
      await this.publish(false);
      for (const p of planned) this.options.faultHook?.('published', p.entry.seq);
    } catch (err) {
      for (const p of planned) p.entry.reject(err);
      return;
    }
    this.committed += planned.length;
    for (const { entry, changes } of planned)
      entry.resolve({
        skipped: false,
        rows: entry.rows.length,
        files: changes.map((c) => join(dir, c.file)),
      });
  }

  private invalid({ rows, seq }: QueuedAppend): CsvWriterStateError | undefined {
    if (this.closed) return new CsvWriterStateError('the writer is closed; open a new one');
    if (!Number.isSafeInteger(seq) || seq < 0)
      return new CsvWriterStateError(`append seq must be a non-negative integer, got ${seq}`);
    const maxBatchRows = this.options.maxBatchRows ?? 200_000;
    if (rows.length > maxBatchRows)
      return new CsvWriterStateError(
        `a batch of ${rows.length} rows is over the ${maxBatchRows}-row limit; split it`,
        { rows: rows.length, maxBatchRows },
      );
    return undefined;
  }

  private usesPool(rows: readonly CsvRow[]): boolean {
    return (
      this.options.pool !== undefined && rows.length > 0 && rows.length >= (this.options.poolMinRows ?? 1000)
    );
  }

  /** Text inline, or the pool's UTF-8 chunks as they came back (written with one writev, never joined). */
  private async encode(rows: readonly CsvRow[]): Promise<EncodedRows> {
    const pool = this.options.pool;
    if (!pool || !this.usesPool(rows)) return encodeCsvRows(this.options.kind, rows);
    return encodeCsvRowsInPool(pool, this.options.kind, rows);
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

export function partName(
  o: Pick<DailyCsvWriterOptions, 'kind' | 'server'>,
  day: string,
  part: number,
): string {
  return part === 1 ? `${o.kind}_${day}_${o.server}.csv` : `${o.kind}_${day}_${o.server}.part${part}.csv`;
}
