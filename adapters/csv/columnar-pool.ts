import type { WorkerPool } from '../../cluster/pool/pool.js';
import type { CsvRow } from './codec.js';
import { packRows, rowColumnBuffers } from './columnar-rows.js';
import type { CsvKind } from './formats.js';
import type { CsvChunk } from './pool-tasks.js';

/**
 * The caller's side of CSV encoding in the pool: rows split into chunks of `chunkRows`, each
 * packed into cells just before its task is submitted (packing overlaps with the workers'
 * encoding), cells moved rather than copied, several tasks in flight. Returns each chunk's
 * lines as UTF-8 bytes, in order; together they are exactly `encodeCsvRows(kind, rows)`, and a bad row fails
 * with the codec's error naming its index in `rows`.
 */
export type CsvPoolOptions = { chunkRows?: number; signal?: AbortSignal; inFlight?: number };

export const defaultChunkRows = 2000;

export async function encodeCsvRowsInPool(
  pool: Pick<WorkerPool, 'runPipelined'>,
  kind: CsvKind,
  rows: readonly CsvRow[],
  options: CsvPoolOptions = {},
): Promise<Uint8Array[]> {
  const chunkRows = Math.max(1, Math.floor(options.chunkRows ?? defaultChunkRows));
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
