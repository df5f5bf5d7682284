import { ownedBytes, transferListOf, type WithTransfer, withTransfer } from '../../cluster/pool/transfer.js';
import { type CsvRow, encodeCsvRows } from './codec.js';
import { encodeRowColumns, encodeRowColumnsBytes } from './columnar-cells.js';
import { type PackedRows, RowBatchError } from './columnar-rows.js';
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

function firstRowOf(chunk: CsvChunk): number {
  if (typeof chunk !== 'object' || chunk === null)
    throw new RowBatchError('a CSV pool chunk must be packed rows');
  const firstRow = chunk.firstRow ?? 0;
  if (!Number.isSafeInteger(firstRow) || firstRow < 0)
    throw new RowBatchError('a CSV pool chunk starts at a row index >= 0');
  return firstRow;
}

// Packed cells become csv-stringify's cell arrays directly (columnar-cells.ts); rows the cells
// could not express go through the codec as they are.
function encodePacked(chunk: CsvChunk): string {
  const firstRow = firstRowOf(chunk);
  if ('columns' in chunk) return encodeRowColumns(chunk.columns, {}, firstRow);
  return encodeCsvRows(chunk.kind, chunk.rows, {}, firstRow);
}

function encodePackedBytes(chunk: CsvChunk): Uint8Array {
  const firstRow = firstRowOf(chunk);
  if ('columns' in chunk) return encodeRowColumnsBytes(chunk.columns, {}, firstRow);
  return ownedBytes(encodeCsvRows(chunk.kind, chunk.rows, {}, firstRow));
}

function checkChunks(chunks: unknown): asserts chunks is unknown[] {
  if (!Array.isArray(chunks) || chunks.length > maxChunksPerTask)
    throw new RowBatchError(`a CSV pool task takes an array of at most ${maxChunksPerTask} chunks`);
}

/** Each chunk's lines as UTF-8 bytes in an ArrayBuffer of their own, moved to the caller. */
export function encodeRowsColumnar(chunks: CsvChunk[]): WithTransfer<Uint8Array[]> {
  checkChunks(chunks);
  const out = chunks.map(encodePackedBytes);
  return withTransfer(out, transferListOf(out));
}

/** The same returning strings, for callers that need text (the copy back costs more). */
export function encodeRowsColumnarText(chunks: CsvChunk[]): string[] {
  checkChunks(chunks);
  return chunks.map(encodePacked);
}
