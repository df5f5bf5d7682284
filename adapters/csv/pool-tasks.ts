import { ownedBytes, transferListOf, type WithTransfer, withTransfer } from '../../cluster/pool/transfer.js';
import { type CsvRow, CsvRowError, encodeCsvRows } from './codec.js';
import { type PackedRows, RowBatchError, unpackRows } from './columnar-rows.js';
import type { CsvKind } from './formats.js';

/**
 * CSV encoding as a pool task (cluster/pool): one job per chunk of rows, returning the encoded
 * lines. `pool.run({ module: 'adapters/csv/pool-tasks', fn: 'encodeRowChunks', payload: jobs })`.
 * The `…Columnar` tasks take rows packed by `packRows` (columnar-rows.ts) and are the ones
 * worth using: cloning row objects costs more than encoding them.
 */
export type CsvEncodeJob = { kind: CsvKind; rows: CsvRow[] };

/** Upper bound of chunks in one task. */
export const maxChunksPerTask = 1000;

export function encodeRowChunks(jobs: CsvEncodeJob[]): string[] {
  return jobs.map((job) => encodeCsvRows(job.kind, job.rows));
}

/** Packed rows, and where they start in the caller's whole batch (so errors name the caller's row). */
export type CsvChunk = PackedRows & { firstRow?: number };

function encodeRows(chunk: CsvChunk): string {
  if ('columns' in chunk) return encodeCsvRows(chunk.columns.kind, unpackRows(chunk.columns));
  return encodeCsvRows(chunk.kind, chunk.rows);
}

function encodePacked(chunk: CsvChunk): string {
  if (typeof chunk !== 'object' || chunk === null)
    throw new RowBatchError('a CSV pool chunk must be packed rows');
  try {
    return encodeRows(chunk);
  } catch (err) {
    const firstRow = chunk.firstRow ?? 0;
    const rowIndex = err instanceof CsvRowError ? err.details.rowIndex : undefined;
    if (firstRow === 0 || typeof rowIndex !== 'number') throw err;
    // The codec counts rows within this chunk; the caller counts them in the batch it handed over.
    const kind = 'columns' in chunk ? chunk.columns.kind : chunk.kind;
    throw new CsvRowError(
      (err as CsvRowError).message.replace(`${kind} row ${rowIndex}:`, `${kind} row ${rowIndex + firstRow}:`),
      { ...(err as CsvRowError).details, rowIndex: rowIndex + firstRow },
    );
  }
}

function checkChunks(chunks: unknown): asserts chunks is unknown[] {
  if (!Array.isArray(chunks) || chunks.length > maxChunksPerTask)
    throw new RowBatchError(`a CSV pool task takes an array of at most ${maxChunksPerTask} chunks`);
}

/** Each chunk's lines as UTF-8 bytes in an ArrayBuffer of their own, moved to the caller. */
export function encodeRowsColumnar(chunks: CsvChunk[]): WithTransfer<Uint8Array[]> {
  checkChunks(chunks);
  const out = chunks.map((c) => ownedBytes(encodePacked(c)));
  return withTransfer(out, transferListOf(out));
}

/** The same returning strings, for callers that need text (the copy back costs more). */
export function encodeRowsColumnarText(chunks: CsvChunk[]): string[] {
  checkChunks(chunks);
  return chunks.map(encodePacked);
}
