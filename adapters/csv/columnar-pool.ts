import type { WorkerPool } from '../../cluster/pool/pool.js';
import { type TaskSizeLimits, taskCountFor } from '../../cluster/pool/task-plan.js';
import type { CsvRow } from './codec.js';
import { packRows, rowColumnBuffers } from './columnar-rows.js';
import type { CsvKind } from './formats.js';
import type { CsvChunk } from './pool-tasks.js';

/**
 * The caller's side of CSV encoding in the pool: rows split into chunks (by default as few as
 * keep every worker busy, see cluster/pool/task-plan.ts; or `chunkRows` each), each packed into cells just before its task is submitted (packing overlaps with the workers'
 * encoding), cells moved rather than copied, several tasks in flight. Returns each chunk's
 * lines as UTF-8 bytes, in order; together they are exactly `encodeCsvRows(kind, rows)`, and a bad row fails
 * with the codec's error naming its index in `rows`.
 */
export type CsvPoolOptions = { chunkRows?: number; signal?: AbortSignal; inFlight?: number };

/** Chunks of about 32k rows (tens of ms in csv-stringify): the hand-off per task is noise against that. */
export const defaultRowsPerTask: TaskSizeLimits = {
  minItemsPerTask: 2000,
  targetItemsPerTask: 32_768,
  maxItemsPerTask: 65_536,
};

/** Rows per chunk for `rows` rows on `threads` workers: equal chunks, as few as keep all busy. */
export function csvChunkRows(
  rows: number,
  threads: number,
  limits: TaskSizeLimits = defaultRowsPerTask,
): number {
  const tasks = taskCountFor(rows, threads, limits);
  return tasks <= 1 ? Math.max(1, rows) : Math.ceil(rows / tasks);
}

export async function encodeCsvRowsInPool(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'>,
  kind: CsvKind,
  rows: readonly CsvRow[],
  options: CsvPoolOptions = {},
): Promise<Uint8Array[]> {
  const chunkRows = Math.max(1, Math.floor(options.chunkRows ?? csvChunkRows(rows.length, pool.threads)));
  const chunks = Math.ceil(rows.length / chunkRows);
  const pipeline: { signal?: AbortSignal; inFlight?: number } = {};
  if (options.signal) pipeline.signal = options.signal;
  if (options.inFlight) pipeline.inFlight = options.inFlight;
  const results = await pool.runPipelined<Uint8Array[]>(
    chunks,
    (i) => {
      const packed = packRows(kind, rows.slice(i * chunkRows, (i + 1) * chunkRows));
      const payload: CsvChunk[] = [{ ...packed, firstRow: i * chunkRows }];
      return {
        module: 'adapters/csv/pool-tasks',
        fn: 'encodeRowsColumnar',
        payload,
        transferList: rowColumnBuffers(packed),
      };
    },
    pipeline,
  );
  return results.map((r) => r[0]!);
}

/**
 * One batch as text through a single task: a drop-in for callers that hold `Pick<WorkerPool,
 * 'run'>` and want a string (DailyCsvWriter's `encode`). The same text as
 * `encodeCsvRows(kind, rows)`, the same errors; the rows travel packed instead of as objects.
 */
export async function encodeCsvTextWithPool(
  pool: Pick<WorkerPool, 'run'>,
  kind: CsvKind,
  rows: readonly CsvRow[],
  options: { signal?: AbortSignal } = {},
): Promise<string> {
  const packed = packRows(kind, rows);
  const payload: CsvChunk[] = [packed];
  const runOptions: { wait: boolean; signal?: AbortSignal; transferList: ArrayBuffer[] } = {
    wait: true,
    transferList: rowColumnBuffers(packed),
  };
  if (options.signal) runOptions.signal = options.signal;
  const [text] = await pool.run<string[]>(
    { module: 'adapters/csv/pool-tasks', fn: 'encodeRowsColumnarText', payload },
    runOptions,
  );
  return text ?? '';
}
