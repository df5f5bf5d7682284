import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerPool } from '../../cluster/pool/pool.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { MeterfabricError } from '../../core/errors.js';
import { appendAtomically, replaceAtomically, truncateAtomically } from './atomic-file.js';
import { type CsvRow, dayOf, encodeCsvRows, headerLine } from './codec.js';
import type { DailyKind } from './formats.js';

/**
 * One writer per daily file kind (S_, DC_, R_, VV_, PP_, MP_, SWE_) and server. Files are
 * `<KIND>_<yyyy-mm-dd>_<server>.csv`, further parts `<KIND>_<yyyy-mm-dd>_<server>.part<N>.csv`
 * once a part reaches `maxPartBytes`. The day is the day the data was COLLECTED (data recovered
 * for earlier days goes into today's file, as the seed specifies).
 *
 * Exactly once across crashes: every append carries `seq`, the caller's position in its input
 * stream (strictly increasing). The writer keeps a manifest (`.<KIND>_<server>.manifest.json`)
 * with the last seq written and each part's size. An append first records its intent (the
 * sizes each part will have), then rewrites the parts atomically (copy, append, fsync, rename),
 * then commits the manifest. On open, an unfinished intent is resolved from the parts' sizes:
 * fully applied -> committed; not applied or half applied -> rolled back. A caller that
 * replays from its checkpoint after a crash therefore never duplicates or loses a row:
 * appends with seq <= lastSeq are skipped.
 */
export type WriterStage = 'intent-recorded' | 'part-written' | 'committed';

export type DailyCsvWriterOptions = {
  dir: string;
  kind: DailyKind;
  /** Server (node) name in file names; letters, digits, '-' and '_' only. */
  server: string;
  /** Roll to a new part once a part would exceed this; default 256 MiB. */
  maxPartBytes?: number;
  /** Upper bound of rows per append (each append copies the current part); default 200,000. */
  maxBatchRows?: number;
  /** Days kept in the manifest (older days are never appended to again); default 14. */
  manifestDays?: number;
  clock?: Clock;
  /** Encode batches in the node's worker pool (adapters/csv/pool-tasks#encodeRowChunks) instead of inline. */
  pool?: Pick<WorkerPool, 'run'>;
  /** Fault injection for crash tests: called after each stage of an append. */
  faultHook?: (stage: WriterStage, seq: number) => void;
};

export type AppendOptions = { seq: number; collectedAtMs?: number };
export type AppendResult = { skipped: boolean; rows: number; files: string[] };

type PartState = { file: string; sizeBytes: number; rows: number };
type Change = { file: string; sizeBefore: number; sizeAfter: number; rowsAfter: number };
type Intent = { seq: number; day: string; changes: Change[] };
type Manifest = {
  version: 1;
  kind: DailyKind;
  server: string;
  lastSeq: number;
  days: Record<string, PartState[]>;
  intent?: Intent;
};

export class CsvWriterStateError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_CSV_STATE', message, details);
    this.name = 'CsvWriterStateError';
  }
}

const serverPattern = /^[A-Za-z0-9_-]{1,64}$/;

export class DailyCsvWriter {
  private manifest: Manifest;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly maxPartBytes: number;
  private readonly clock: Clock;

  private constructor(
    private readonly options: DailyCsvWriterOptions,
    manifest: Manifest,
  ) {
    this.manifest = manifest;
    this.maxPartBytes = options.maxPartBytes ?? 256 * 1024 * 1024;
    this.clock = options.clock ?? systemClock;
  }

  /** Opens (and if needed recovers) the writer's state in `dir`. */
  static async open(options: DailyCsvWriterOptions): Promise<DailyCsvWriter> {
    if (!serverPattern.test(options.server))
      throw new CsvWriterStateError(
        `server name "${options.server}" must be 1-64 letters, digits, '-' or '_'`,
      );
    await mkdir(options.dir, { recursive: true });
    const path = manifestPath(options);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(path, 'utf8')) as Manifest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new CsvWriterStateError(`cannot read CSV writer manifest ${path}: ${(err as Error).message}`, {
          path,
        });
      manifest = { version: 1, kind: options.kind, server: options.server, lastSeq: -1, days: {} };
    }
    const writer = new DailyCsvWriter(options, manifest);
    await writer.recover();
    return writer;
  }

  /** The seq of the last batch durably written; replay input after this. */
  get lastSeq(): number {
    return this.manifest.lastSeq;
  }

  /** Files written for a day, in part order. */
  partsOf(day: string): string[] {
    return (this.manifest.days[day] ?? []).map((p) => join(this.options.dir, p.file));
  }

  append(rows: readonly CsvRow[], options: AppendOptions): Promise<AppendResult> {
    const run = this.chain.then(() => this.appendNow(rows, options));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async appendNow(
    rows: readonly CsvRow[],
    { seq, collectedAtMs }: AppendOptions,
  ): Promise<AppendResult> {
    if (!Number.isSafeInteger(seq) || seq < 0)
      throw new CsvWriterStateError(`append seq must be a non-negative integer, got ${seq}`);
    const maxBatchRows = this.options.maxBatchRows ?? 200_000;
    if (rows.length > maxBatchRows)
      throw new CsvWriterStateError(
        `a batch of ${rows.length} rows is over the ${maxBatchRows}-row limit; split it`,
        {
          rows: rows.length,
          maxBatchRows,
        },
      );
    if (seq <= this.manifest.lastSeq) return { skipped: true, rows: 0, files: [] };
    const day = dayOf(collectedAtMs ?? this.clock.now());
    const whole = await this.encode(rows);
    const changes = this.plan(day, rows, whole);
    // A new part must not replace a file the manifest no longer lists (a day older than manifestDays).
    for (const { change } of changes)
      if (change.sizeBefore === 0 && existsSync(join(this.options.dir, change.file)))
        throw new CsvWriterStateError(
          `${change.file} already exists but is not in the writer's manifest (is ${day} older than the ${this.options.manifestDays ?? 14} days it keeps?); refusing to overwrite it`,
          { file: change.file, day },
        );
    const intent: Intent = { seq, day, changes: changes.map(({ change }) => change) };
    await this.saveManifest({ ...this.manifest, intent });
    this.options.faultHook?.('intent-recorded', seq);
    for (const { change, text } of changes) {
      await appendAtomically(
        join(this.options.dir, change.file),
        change.sizeBefore > 0,
        headerLine(this.options.kind),
        text,
      );
      this.options.faultHook?.('part-written', seq);
    }
    await this.commit(intent);
    this.options.faultHook?.('committed', seq);
    return {
      skipped: false,
      rows: rows.length,
      files: changes.map(({ change }) => join(this.options.dir, change.file)),
    };
  }

  private async encode(rows: readonly CsvRow[]): Promise<string> {
    const pool = this.options.pool;
    if (!pool || rows.length === 0) return encodeCsvRows(this.options.kind, rows);
    const [text] = await pool.run<string[]>(
      {
        module: 'adapters/csv/pool-tasks',
        fn: 'encodeRowChunks',
        payload: [{ kind: this.options.kind, rows }],
      },
      { wait: true },
    );
    return text ?? '';
  }

  /** Decides which part(s) the rows go to; splits rows over parts at maxPartBytes. */
  private plan(day: string, rows: readonly CsvRow[], whole: string): { change: Change; text: string }[] {
    const kind = this.options.kind;
    const headerBytes = Buffer.byteLength(headerLine(kind));
    const parts = this.manifest.days[day] ?? [];
    const current: PartState | undefined = parts[parts.length - 1];
    let nextIndex = parts.length + 1;
    const out: { change: Change; text: string }[] = [];
    const openPart = (): PartState => {
      const state = { file: partName(this.options, day, nextIndex++), sizeBytes: 0, rows: 0 };
      return state;
    };
    const wholeBytes = Buffer.byteLength(whole);
    const fits = (p: PartState | undefined, bytes: number) =>
      p !== undefined && (p.sizeBytes === 0 ? headerBytes : p.sizeBytes) + bytes <= this.maxPartBytes;
    if (rows.length === 0) return [];
    if (
      fits(current, wholeBytes) ||
      (current === undefined && headerBytes + wholeBytes <= this.maxPartBytes)
    ) {
      const target = current ?? openPart();
      const before = target.sizeBytes;
      out.push({
        change: {
          file: target.file,
          sizeBefore: before,
          sizeAfter: (before === 0 ? headerBytes : before) + wholeBytes,
          rowsAfter: target.rows + rows.length,
        },
        text: whole,
      });
      return out;
    }
    // Slow path: fill parts row by row.
    let text = '';
    let count = 0;
    let target = current && fits(current, 0) ? current : openPart();
    let size = target.sizeBytes === 0 ? headerBytes : target.sizeBytes;
    const flush = () => {
      if (count === 0) return;
      out.push({
        change: {
          file: target.file,
          sizeBefore: target.sizeBytes,
          sizeAfter: size,
          rowsAfter: target.rows + count,
        },
        text,
      });
    };
    for (const row of rows) {
      const line = encodeCsvRows(kind, [row]);
      const bytes = Buffer.byteLength(line);
      if (size + bytes > this.maxPartBytes && count > 0) {
        flush();
        target = openPart();
        size = headerBytes;
        text = '';
        count = 0;
      }
      text += line;
      size += bytes;
      count++;
    }
    flush();
    return out;
  }

  private async commit(intent: Intent): Promise<void> {
    const days = { ...this.manifest.days };
    const parts = [...(days[intent.day] ?? [])];
    for (const change of intent.changes) {
      const i = parts.findIndex((p) => p.file === change.file);
      const state = { file: change.file, sizeBytes: change.sizeAfter, rows: change.rowsAfter };
      if (i >= 0) parts[i] = state;
      else parts.push(state);
    }
    days[intent.day] = parts;
    const keep = Object.keys(days)
      .sort()
      .slice(-(this.options.manifestDays ?? 14));
    const next: Manifest = {
      version: 1,
      kind: this.manifest.kind,
      server: this.manifest.server,
      lastSeq: intent.seq,
      days: Object.fromEntries(keep.map((d) => [d, days[d]!])),
    };
    await this.saveManifest(next);
  }

  private async saveManifest(manifest: Manifest): Promise<void> {
    await replaceAtomically(manifestPath(this.options), JSON.stringify(manifest));
    this.manifest = manifest;
  }

  private async sizeOf(file: string): Promise<number> {
    try {
      return (await stat(join(this.options.dir, file))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  /** Resolves an unfinished append left by a crash, then checks the parts match the manifest. */
  private async recover(): Promise<void> {
    const intent = this.manifest.intent;
    if (intent) {
      const sizes = await Promise.all(intent.changes.map((c) => this.sizeOf(c.file)));
      const applied = intent.changes.map((c, i) => sizes[i] === c.sizeAfter);
      intent.changes.forEach((c, i) => {
        if (!applied[i] && sizes[i] !== c.sizeBefore)
          throw new CsvWriterStateError(
            `${c.file} is ${sizes[i]} bytes, neither the ${c.sizeBefore} before nor the ${c.sizeAfter} after the interrupted append ${intent.seq}; inspect it by hand`,
            { file: c.file },
          );
      });
      if (applied.every(Boolean)) await this.commit(intent);
      else {
        for (const [i, c] of intent.changes.entries())
          if (applied[i]) await truncateAtomically(join(this.options.dir, c.file), c.sizeBefore);
        const { intent: _dropped, ...rest } = this.manifest;
        await this.saveManifest(rest);
      }
    }
    // Temp files of an interrupted part write are garbage: their rename never happened.
    const prefix = `${this.options.kind}_`;
    for (const name of await readdir(this.options.dir))
      if (name.startsWith(prefix) && name.endsWith('.csv.tmp'))
        await rm(join(this.options.dir, name), { force: true });
    for (const parts of Object.values(this.manifest.days))
      for (const p of parts) {
        const size = await this.sizeOf(p.file);
        if (size !== p.sizeBytes)
          throw new CsvWriterStateError(
            `${p.file} is ${size} bytes but the writer wrote ${p.sizeBytes}; something else changed it. Move it aside to continue`,
            { file: p.file, sizeBytes: size, expectedBytes: p.sizeBytes },
          );
      }
  }
}

function manifestPath(o: Pick<DailyCsvWriterOptions, 'dir' | 'kind' | 'server'>): string {
  return join(o.dir, `.${o.kind}_${o.server}.manifest.json`);
}

export function partName(
  o: Pick<DailyCsvWriterOptions, 'kind' | 'server'>,
  day: string,
  part: number,
): string {
  return part === 1 ? `${o.kind}_${day}_${o.server}.csv` : `${o.kind}_${day}_${o.server}.part${part}.csv`;
}
