import type { WorkerPool } from '../../cluster/pool/pool.js';
import { groupStarts, type TaskSizeLimits, taskCountFor } from '../../cluster/pool/task-plan.js';
import { systemClock } from '../../core/clock.js';
import type { CollectedReading } from '../field-data.js';
import { ColumnarBatchError, packReadings, readingColumnBuffers } from './columnar-readings.js';
import { encodeMeterReadings, type MeterReadingsOptions } from './meter-readings.js';
import { type ColumnarMeterReadingsJob, maxJobsPerTask, type PoolMessageOptions } from './pool-tasks.js';

/**
 * The caller's side of CIM encoding in the pool: one MeterReadings message per job. Messages
 * are grouped into as few tasks as keep every worker busy (cluster/pool/task-plan.ts: a task
 * costs the main thread a fixed amount, which on shared cores comes off the workers), each
 * group packed into columns just before its task is submitted (so packing overlaps with the
 * workers' encoding), columns moved rather than copied. Returns each message's UTF-8 bytes,
 * identical to `Buffer.from(encodeMeterReadings(readings, options))`.
 */
export type MeterReadingsMessageJob = { readings: readonly CollectedReading[]; options: PoolMessageOptions };

export type PoolEncodeOptions = {
  signal?: AbortSignal;
  inFlight?: number;
  /** Bounds of readings per task (whole messages are never split); defaults below. */
  taskSize?: Partial<TaskSizeLimits>;
};

/**
 * Tasks of about 32k readings (6-7 ms of encoding): large against the 0.1-1 ms hand-off each
 * task costs through the main thread on a shared box, small enough to bound a task's memory
 * (~7 MB of XML) and to keep packing overlapped with encoding. Batches under 2 x 2,000 stay
 * one task.
 */
export const defaultReadingsPerTask: TaskSizeLimits = {
  minItemsPerTask: 2000,
  targetItemsPerTask: 32_768,
  maxItemsPerTask: 65_536,
};

export async function encodeMeterReadingsInPool(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'>,
  jobs: readonly MeterReadingsMessageJob[],
  options: PoolEncodeOptions = {},
): Promise<Uint8Array[]> {
  const pipeline: { signal?: AbortSignal; inFlight?: number } = {};
  if (options.signal) pipeline.signal = options.signal;
  if (options.inFlight) pipeline.inFlight = options.inFlight;
  const weights = jobs.map((j) => j.readings.length);
  const total = weights.reduce((a, b) => a + b, 0);
  const tasks = taskCountFor(total, pool.threads, { ...defaultReadingsPerTask, ...options.taskSize });
  const starts = groupStarts(weights, Math.max(1, tasks), maxJobsPerTask);
  const results = await pool.runPipelined<Uint8Array[]>(
    starts.length,
    (g) => {
      const end = starts[g + 1] ?? jobs.length;
      const payload: ColumnarMeterReadingsJob[] = [];
      const transferList: ArrayBuffer[] = [];
      for (let i = starts[g]!; i < end; i++) {
        const columns = packReadings(jobs[i]!.readings);
        payload.push({ columns, options: jobs[i]!.options });
        transferList.push(...readingColumnBuffers(columns));
      }
      return { module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsColumnar', payload, transferList };
    },
    pipeline,
  );
  return results.flat();
}

/** A MeterReadings message to encode: readings and options as `encodeMeterReadings` takes them. */
export type MeterReadingsTextJob = { readings: readonly CollectedReading[]; options: MeterReadingsOptions };

const utf8 = new TextDecoder();

/**
 * Each message's XML text, encoded in `pool` when one is given and the messages hold at least
 * `minReadings` readings together (below that the hand-off costs more than the encoding it
 * moves), inline otherwise: the same text either way (the clock is read here, once per
 * message, as `encodeMeterReadings` would).
 * For callers that keep the XML as a string (CimPublisher retains it for subscribers); the
 * bytes come back moved and are decoded on this thread, cheaper than copying strings back.
 */
export async function encodeMeterReadingsTexts(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'> | undefined,
  jobs: readonly MeterReadingsTextJob[],
  minReadings = 1000,
): Promise<string[]> {
  const readings = jobs.reduce((n, j) => n + j.readings.length, 0);
  if (!pool || readings < minReadings)
    return jobs.map((job) => encodeMeterReadings(job.readings, job.options));
  const pooled: MeterReadingsMessageJob[] = jobs.map(({ readings, options }) => {
    const { clock, verb, ...rest } = options;
    if (verb !== undefined && verb !== 'created')
      throw new ColumnarBatchError(`the pool encodes MeterReadings with verb "created" only, got "${verb}"`);
    return { readings, options: { ...rest, timestampMs: (clock ?? systemClock).now() } };
  });
  const bytes = await encodeMeterReadingsInPool(pool, pooled);
  return bytes.map((b) => utf8.decode(b));
}
