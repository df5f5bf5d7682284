import { open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeDirectory } from '../../core/fs/make-directory.js';
import { type BatchCounts, batchLogLine, batchLogName } from './cim-window.js';

/**
 * Makes the CIM publisher's batches durable before they count as published (issue 7): a power
 * cut after the stream position was acknowledged must not lose a message the head-end will
 * never send again.
 *
 * A batch goes through two steps:
 * - `stage`: each message is written to `<name>.tmp`, fsynced and renamed to its final name
 *   (the files of one batch concurrently). The renames are not durable yet: the directory is not
 *   fsynced, and the batch is not in `batches.log`.
 * - `commit`: fsync each directory that got a file (once per directory per commit), then append
 *   the batch's `batches.log` line and fsync the log. Only then is `onDurable` called (the
 *   publisher announces there), so nobody hears of a batch a power cut could take back.
 *
 * Group commit: batches handed to `commit` while a commit is running wait and are committed
 * together by the next one (one fsync per directory and one log write + fsync for all of them),
 * like `DailyCsvWriter`. Each `commit` resolves only after the commit that covers it, and the
 * `onDurable` callbacks run in the order `commit` was called. The log line of a batch is written
 * only after all its files are in place and durable: the invariant `restoreWindow` relies on.
 */

/** The file handle operations the publisher uses (a subset of node:fs/promises FileHandle). */
export type CimFileHandle = {
  writeFile(data: string | Uint8Array): Promise<void>;
  sync(): Promise<void>;
  stat(): Promise<{ size: number }>;
  truncate(lengthBytes: number): Promise<void>;
  close(): Promise<void>;
};

/**
 * The file operations behind the publisher, injectable so a test can record (or fail) the real
 * operations on real files in order. `open(dir, 'r')` + `sync()` is how a directory is fsynced.
 */
export type CimFileOps = {
  open(path: string, flags: 'w' | 'a' | 'r'): Promise<CimFileHandle>;
  rename(fromPath: string, toPath: string): Promise<void>;
  mkdir(path: string): Promise<void>;
};

export const nodeFileOps: CimFileOps = {
  open: (path, flags) => open(path, flags),
  rename: (fromPath, toPath) => rename(fromPath, toPath),
  mkdir: (path) => makeDirectory(path),
};

/** A message's file: `bytes` are written as they are (the message's UTF-8 XML). */
export type StagedFile = { noun: string; name: string; bytes: Uint8Array };

/** A batch whose files are in place (renamed) but not yet durable as a whole; see `commit`. */
export type StagedBatch = { seq: number; counts: BatchCounts; dirs: readonly string[] };

type Pending<T> = {
  staged: StagedBatch;
  onDurable: () => T;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
};

export class CimBatchCommitter {
  private readonly cimDir: string;
  private readonly logPath: string;
  /** Directories known to exist (one mkdir per noun, not per message). */
  private readonly madeDirs = new Set<string>();
  /** Parents of directories this process created: their entries are fsynced by the next commit. */
  private readonly newEntries = new Set<string>();
  private readonly queue: Pending<unknown>[] = [];
  private committing = false;
  /** Size of batches.log up to its last committed line (-1: not read yet); a failed append is cut back to it. */
  private logSizeBytes = -1;
  /** Commits run and batches committed (group commit when batches > commits). */
  private commitCount = 0;
  private batchCount = 0;

  constructor(
    outDir: string,
    private readonly ops: CimFileOps = nodeFileOps,
  ) {
    this.cimDir = join(outDir, 'cim');
    this.logPath = join(this.cimDir, batchLogName);
  }

  get commits(): { batches: number; commits: number } {
    return { batches: this.batchCount, commits: this.commitCount };
  }

  /** Writes each file durably under its final name (temp, fsync, rename); concurrently, all before this resolves. */
  async stage(seq: number, files: readonly StagedFile[], counts: BatchCounts): Promise<StagedBatch> {
    const dirs = new Set<string>();
    for (const f of files) dirs.add(join(this.cimDir, f.noun));
    for (const dir of dirs) await this.ensureDir(dir);
    // allSettled: a failure is reported only once no write of this batch is still running, so
    // a replay of the batch cannot race this one's temp files.
    const written = await Promise.allSettled(
      files.map(async (f) => {
        const path = join(this.cimDir, f.noun, f.name);
        const fh = await this.ops.open(`${path}.tmp`, 'w');
        try {
          await fh.writeFile(f.bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await this.ops.rename(`${path}.tmp`, path);
      }),
    );
    for (const w of written) if (w.status === 'rejected') throw w.reason;
    return { seq, counts, dirs: [...dirs] };
  }

  /**
   * Resolves with `onDurable()` once the batch's directory entries and its log line are durable.
   * A failed commit rejects every batch in it and every batch queued behind it, logs none of
   * them (the log is cut back) and calls no `onDurable`.
   */
  commit<T>(staged: StagedBatch, onDurable: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ staged, onDurable, resolve, reject } as Pending<unknown>);
      if (!this.committing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.committing = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0);
        try {
          await this.commitGroup(group.map((p) => p.staged));
        } catch (err) {
          // What was queued behind the failed group fails with it: committed now, a later seq
          // would be in the log (and announced) before the earlier one it followed.
          for (const p of [...group, ...this.queue.splice(0)]) p.reject(err);
          continue;
        }
        this.commitCount++;
        this.batchCount += group.length;
        for (const p of group) {
          try {
            p.resolve(p.onDurable());
          } catch (err) {
            p.reject(err);
          }
        }
      }
    } finally {
      this.committing = false;
    }
  }

  private async commitGroup(group: readonly StagedBatch[]): Promise<void> {
    const dirs = new Set<string>(this.newEntries);
    for (const s of group) for (const d of s.dirs) dirs.add(d);
    // The renames (and new directories) durable before the log line that vouches for them.
    await Promise.all([...dirs].map((d) => this.fsyncDir(d)));
    for (const d of dirs) this.newEntries.delete(d);
    const lines = group
      .filter((s) => s.counts.meterReadings + s.counts.endDeviceEvents > 0)
      .map((s) => batchLogLine(s.seq, s.counts))
      .join('');
    if (lines.length === 0) return;
    const created = this.logSizeBytes < 0;
    const fh = await this.ops.open(this.logPath, 'a');
    try {
      if (this.logSizeBytes < 0) this.logSizeBytes = (await fh.stat()).size;
      try {
        await fh.writeFile(lines);
        await fh.sync();
      } catch (err) {
        // Cut a torn or unsynced append: a later line must not be glued to half of this one,
        // and a rejected batch must not be vouched for. Best effort: the error reported is the write's.
        await fh
          .truncate(this.logSizeBytes)
          .then(() => fh.sync())
          .catch(() => undefined);
        throw err;
      }
      this.logSizeBytes += Buffer.byteLength(lines, 'latin1');
    } finally {
      await fh.close();
    }
    // The log's own directory entry, the first time this process writes it (it may be new).
    if (created) await this.fsyncDir(this.cimDir);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await this.ops.mkdir(dir);
    this.madeDirs.add(dir);
    // mkdir may have created cim/ and the noun dir: their entries become durable with the next commit.
    this.newEntries.add(dirname(dir));
    this.newEntries.add(dirname(dirname(dir)));
  }

  private async fsyncDir(dir: string): Promise<void> {
    const fh = await this.ops.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
