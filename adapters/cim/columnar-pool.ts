import type { WorkerPool } from '../../cluster/pool/pool.js';
import type { CollectedReading } from '../field-data.js';
import { packReadings, readingColumnBuffers } from './columnar-readings.js';
import type { ColumnarMeterReadingsJob, PoolMessageOptions } from './pool-tasks.js';

/**
 * The caller's side of CIM encoding in the pool: one MeterReadings message per job, packed
 * into columns just before its task is submitted (so packing overlaps with the workers'
 * encoding), columns moved rather than copied, several tasks in flight. Returns each message's
 * UTF-8 bytes, identical to `Buffer.from(encodeMeterReadings(readings, options))`.
 */
export type MeterReadingsMessageJob = { readings: readonly CollectedReading[]; options: PoolMessageOptions };

export type PoolEncodeOptions = { signal?: AbortSignal; inFlight?: number };

export async function encodeMeterReadingsInPool(
  pool: Pick<WorkerPool, 'runPipelined'>,
  jobs: readonly MeterReadingsMessageJob[],
  options: PoolEncodeOptions = {},
): Promise<Uint8Array[]> {
  const pipeline: { signal?: AbortSignal; inFlight?: number } = {};
  if (options.signal) pipeline.signal = options.signal;
  if (options.inFlight) pipeline.inFlight = options.inFlight;
  const results = await pool.runPipelined<Uint8Array[]>(
    jobs.length,
    (i) => {
      const job = jobs[i]!;
      const columns = packReadings(job.readings);
      const payload: ColumnarMeterReadingsJob[] = [{ columns, options: job.options }];
      return {
        module: 'adapters/cim/pool-tasks',
        fn: 'encodeMeterReadingsColumnar',
        payload,
        transferList: readingColumnBuffers(columns),
      };
    },
    pipeline,
  );
  return results.map((r) => r[0]!);
}
