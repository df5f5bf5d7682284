import { ownedBytes, transferListOf, type WithTransfer, withTransfer } from '../../cluster/pool/transfer.js';
import { type CsvRow, encodeCsvRows } from './codec.js';
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

function encodePacked(packed: PackedRows): string {
  if (typeof packed !== 'object' || packed === null)
    throw new RowBatchError('a CSV pool chunk must be packed rows');
  if ('columns' in packed) return encodeCsvRows(packed.columns.kind, unpackRows(packed.columns));
  return encodeCsvRows(packed.kind, packed.rows);
}

function checkChunks(chunks: unknown): asserts chunks is unknown[] {
  if (!Array.isArray(chunks) || chunks.length > maxChunksPerTask)
    throw new RowBatchError(`a CSV pool task takes an array of at most ${maxChunksPerTask} chunks`);
}

/** Each chunk's lines as UTF-8 bytes in an ArrayBuffer of their own, moved to the caller. */
export function encodeRowsColumnar(chunks: PackedRows[]): WithTransfer<Uint8Array[]> {
  checkChunks(chunks);
  const out = chunks.map((c) => ownedBytes(encodePacked(c)));
  return withTransfer(out, transferListOf(out));
}

/** The same returning strings, for callers that need text (the copy back costs more). */
export function encodeRowsColumnarText(chunks: PackedRows[]): string[] {
  checkChunks(chunks);
  return chunks.map(encodePacked);
}
