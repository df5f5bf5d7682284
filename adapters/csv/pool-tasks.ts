import { type CsvRow, encodeCsvRows } from './codec.js';
import type { CsvKind } from './formats.js';

/**
 * CSV encoding as a pool task (cluster/pool): one job per chunk of rows, returning the encoded
 * lines. `pool.run({ module: 'adapters/csv/pool-tasks', fn: 'encodeRowChunks', payload: jobs })`.
 */
export type CsvEncodeJob = { kind: CsvKind; rows: CsvRow[] };

export function encodeRowChunks(jobs: CsvEncodeJob[]): string[] {
  return jobs.map((job) => encodeCsvRows(job.kind, job.rows));
}
