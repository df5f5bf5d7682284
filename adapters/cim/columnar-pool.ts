import {
  type ArenaLayout,
  arenaMessage,
  BytesPerItemEstimate,
  layoutBytes,
  OutputArenas,
} from '../../cluster/pool/output-arena.js';
import type { WorkerPool } from '../../cluster/pool/pool.js';
import { groupStarts, type TaskSizeLimits, taskCountFor } from '../../cluster/pool/task-plan.js';
import { systemClock } from '../../core/clock.js';
import type { CollectedReading } from '../field-data.js';
import {
  ColumnarBatchError,
  packReadingLists,
  packReadings,
  readingColumnBuffers,
} from './columnar-readings.js';
import { encodeMeterReadingsBytes, type MeterReadingsOptions } from './meter-readings.js';
import { movableRuns, packedReadingCount } from './packed-readings.js';
import {
  type ColumnarMeterReadingsJob,
  maxJobsPerTask,
  type PackedMeterReadingsJob,
  type PoolMessageOptions,
} from './pool-tasks.js';

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

/** Messages grouped into tasks of about the target size (cluster/pool/task-plan.ts). */
function planTasks(
  pool: Pick<WorkerPool, 'threads'>,
  weights: readonly number[],
  options: PoolEncodeOptions,
): { starts: number[]; pipeline: { signal?: AbortSignal; inFlight?: number } } {
  const pipeline: { signal?: AbortSignal; inFlight?: number } = {};
  if (options.signal) pipeline.signal = options.signal;
  if (options.inFlight) pipeline.inFlight = options.inFlight;
  const total = weights.reduce((a, b) => a + b, 0);
  const tasks = taskCountFor(total, pool.threads, { ...defaultReadingsPerTask, ...options.taskSize });
  return { starts: groupStarts(weights, Math.max(1, tasks), maxJobsPerTask), pipeline };
}

/** Jobs `from` to `to` packed into columns for one task, their column buffers to move. */
function packGroup(
  jobs: readonly MeterReadingsMessageJob[],
  from: number,
  to: number,
): { payload: ColumnarMeterReadingsJob[]; transferList: ArrayBuffer[]; readings: number } {
  const payload: ColumnarMeterReadingsJob[] = [];
  const transferList: ArrayBuffer[] = [];
  let readings = 0;
  for (let i = from; i < to; i++) {
    const columns = packReadings(jobs[i]!.readings);
    payload.push({ columns, options: jobs[i]!.options });
    transferList.push(...readingColumnBuffers(columns));
    readings += columns.count;
  }
  return { payload, transferList, readings };
}

/**
 * The output arenas this thread's callers hand to CIM pool tasks (cluster/pool/output-arena.ts):
 * the workers write the XML into them in place and the caller lends (`encodeMeterReadingsLeased`)
 * each message and gives the arena back, so no buffer crosses the thread boundary per message.
 */
export const cimOutputArenas = new OutputArenas();

/**
 * Arena room reserved per reading and per message. Before anything is measured, generous (an
 * IntervalReadings element is ~200 bytes, a Readings element with its ReadingType ~290); then
 * what recent tasks wrote per reading plus 12.5% (`BytesPerItemEstimate`): a 32k-reading task
 * of ~9 MB of XML gets a 10 MiB arena instead of 16 MiB, which kept V8 from a mark-compact on
 * this thread for nearly every returning pair with two tasks per worker (cluster/pool/README.md,
 * session 17). A message that does not fit comes back in a buffer of its own.
 */
const arenaBytesPerMessage = 4096;
export const cimArenaSizing = new BytesPerItemEstimate(512);

/**
 * Messages grouped into tasks, each task's messages packed just before it is submitted and
 * written by the worker into an arena (moved there and back); `take` gets each message's bytes (a view into the
 * arena, valid only during the call, or bytes of its own when the message did not fit) as its
 * task's result arrives, and the arena is reused right after.
 */
/**
 * How a kind of job becomes arena tasks: its weight in readings, and a group of jobs as one
 * task's payload (the arena is added to it), the buffers to move with it, and its size.
 */
type ArenaTaskKind = {
  fn: 'encodeMeterReadingListsInto' | 'encodeMeterReadingsPackedInto';
  weights: number[];
  group(
    from: number,
    to: number,
  ): { payload: Record<string, unknown>; transferList: ArrayBuffer[]; readings: number; messages: number };
};

async function encodeThroughArenas<T>(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'>,
  kind: ArenaTaskKind,
  options: PoolEncodeOptions,
  take: (bytes: Uint8Array) => T,
  /** When given, the arenas are kept here for the caller to release, not released at once. */
  lent?: Set<ArrayBuffer>,
): Promise<T[]> {
  const jobCount = kind.weights.length;
  const { starts, pipeline } = planTasks(pool, kind.weights, options);
  const endOf = (g: number) => starts[g + 1] ?? jobCount;
  // Each task's arena moves to its worker and back with the result: while the task runs this
  // thread's handle is detached, so a failed or cancelled task's arena is never reused.
  const arenaBytes: number[] = new Array(starts.length);
  const groupReadings: number[] = new Array(starts.length);
  const results = await pool.runPipelined<ArenaLayout, T[]>(
    starts.length,
    (g) => {
      const { payload, transferList, readings, messages } = kind.group(starts[g]!, endOf(g));
      const arena = cimOutputArenas.acquire(
        readings * cimArenaSizing.bytesPerItem + messages * arenaBytesPerMessage,
      );
      arenaBytes[g] = arena.byteLength;
      groupReadings[g] = readings;
      return {
        module: 'adapters/cim/pool-tasks',
        fn: kind.fn,
        payload: { ...payload, arena },
        transferList: [...transferList, arena],
      };
    },
    {
      ...pipeline,
      onResult: (layout, g) => {
        const count = endOf(g) - starts[g]!;
        if (!Array.isArray(layout?.spans) || layout.spans.length !== 2 * count)
          throw new ColumnarBatchError(
            `a CIM pool task returned ${layout?.spans?.length} spans for ${count} messages`,
          );
        const arena = layout.arena;
        if (!(arena instanceof ArrayBuffer) || arena.byteLength !== arenaBytes[g])
          throw new ColumnarBatchError('a CIM pool task did not give its arena back');
        const out: T[] = new Array(count);
        for (let i = 0; i < count; i++) out[i] = take(arenaMessage(arena, layout, i));
        cimArenaSizing.record(layoutBytes(layout), groupReadings[g]!);
        if (lent) lent.add(arena);
        else cimOutputArenas.release(arena);
        return out;
      },
    },
  );
  return results.flat();
}

/**
 * Messages encoded in the pool, lent to the caller: `bytes[i]` are views into the output
 * arenas, valid until `release()`, after which the arenas carry the next tasks' messages.
 * For a caller that writes the bytes and is done with them (a file, a socket): nothing is
 * copied or allocated per message on either side. Copy (`slice`) what must outlive the lease.
 */
export type LeasedMessages = { readonly bytes: Uint8Array[]; release(): void };

export async function encodeMeterReadingsLeased(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'>,
  jobs: readonly MeterReadingsMessageJob[],
  options: PoolEncodeOptions = {},
): Promise<LeasedMessages> {
  return leaseThroughArenas(pool, columnarKind(jobs), options);
}

/**
 * Reading objects packed on this thread just before their task is submitted, the task's
 * messages as one batch (`packReadingLists`: one set of columns and tables per task, not per
 * message; pool-tasks.ts `encodeMeterReadingListsInto`).
 */
function columnarKind(jobs: readonly MeterReadingsMessageJob[]): ArenaTaskKind {
  return {
    fn: 'encodeMeterReadingListsInto',
    weights: jobs.map((j) => j.readings.length),
    group: (from, to) => {
      const group = jobs.slice(from, to);
      const { columns, ends } = packReadingLists(group.map((job) => job.readings));
      return {
        payload: { columns, ends, options: group.map((job) => job.options) },
        transferList: readingColumnBuffers(columns),
        readings: columns.count,
        messages: group.length,
      };
    },
  };
}

/**
 * Messages whose readings are already in the stream's packed form (packed-readings.ts), encoded
 * in the pool and lent like `encodeMeterReadingsLeased`: the worker reads the runs into columns
 * itself, so this thread neither unpacks nor packs (each list's runs are copied into a
 * Float64Array and moved; the small tables are structured-cloned). Same bytes as `encodeMeterReadingsPackedBytes` on this
 * thread, and as `encodeMeterReadingsBytes` for the unpacked readings.
 */
export async function encodeMeterReadingsPackedLeased(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'>,
  jobs: readonly PackedMeterReadingsJob[],
  options: PoolEncodeOptions = {},
): Promise<LeasedMessages> {
  const weights = jobs.map((j) => packedReadingCount(j.packed));
  return leaseThroughArenas(
    pool,
    {
      fn: 'encodeMeterReadingsPackedInto',
      weights,
      group: (from, to) => {
        let readings = 0;
        const payload: PackedMeterReadingsJob[] = [];
        const transferList: ArrayBuffer[] = [];
        for (let i = from; i < to; i++) {
          readings += weights[i]!;
          // The runs copied into a typed array and moved (the caller's list is left as it was).
          const { packed, buffer } = movableRuns(jobs[i]!.packed);
          payload.push({ packed, options: jobs[i]!.options });
          if (buffer) transferList.push(buffer);
        }
        return { payload: { jobs: payload }, transferList, readings, messages: payload.length };
      },
    },
    options,
  );
}

async function leaseThroughArenas(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'>,
  kind: ArenaTaskKind,
  options: PoolEncodeOptions,
): Promise<LeasedMessages> {
  const arenas = new Set<ArrayBuffer>();
  const bytes = await encodeThroughArenas(pool, kind, options, (b) => b, arenas);
  let released = false;
  return {
    bytes,
    release: () => {
      if (released) return;
      released = true;
      for (const arena of arenas) cimOutputArenas.release(arena);
    },
  };
}

/**
 * Bytes of their own: each message's buffer is made by the worker and moved back (no copy).
 * Measured against copying out of an output arena on this thread (probe, interleaved, load
 * 4-5): CPU per 1000 readings 0.46 moved vs 0.54 copied (the copy and its allocation on this
 * thread cost more than the mark-compacts the moved buffers cause). A caller that is done
 * with the bytes once written should use `encodeMeterReadingsLeased` (0.41, nothing copied).
 */
export async function encodeMeterReadingsInPool(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'>,
  jobs: readonly MeterReadingsMessageJob[],
  options: PoolEncodeOptions = {},
): Promise<Uint8Array[]> {
  const { starts, pipeline } = planTasks(
    pool,
    jobs.map((j) => j.readings.length),
    options,
  );
  const results = await pool.runPipelined<Uint8Array[]>(
    starts.length,
    (g) => {
      const { payload, transferList } = packGroup(jobs, starts[g]!, starts[g + 1] ?? jobs.length);
      return { module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsColumnar', payload, transferList };
    },
    pipeline,
  );
  return results.flat();
}

/** A MeterReadings message to encode: readings and options as `encodeMeterReadings` takes them. */
export type MeterReadingsBytesJob = { readings: readonly CollectedReading[]; options: MeterReadingsOptions };

/**
 * Each message's UTF-8 bytes (in a buffer of its own, kept as long as the caller likes),
 * encoded in `pool` when one is given and the messages hold at least `minReadings` readings
 * together (below that the hand-off costs more than the encoding it moves), inline otherwise
 * with the main thread's production path (`encodeMeterReadingsBytes`): the same bytes either
 * way (the clock is read here, once per message, as the inline encoder would).
 * For CimPublisher, which writes the bytes to files, subscribers and webhooks and keeps every
 * message in its retained window: bytes that outlive the call are needed, so the workers' own
 * buffers are moved back (`encodeMeterReadingsInPool`) rather than lent from arenas and copied
 * out (0.46 against 0.54 ms CPU per 1000 readings with shared arenas; session 16, with moved
 * ArrayBuffer arenas and a retained window of 256 messages, 0.654 moved against 0.663 copied,
 * interleaved, load 4.6: no gain, cluster/pool/README.md), and nothing is
 * decoded to a string (the text path ran at 0.47x the main thread in the bench).
 */
export async function encodeMeterReadingsMessagesBytes(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'> | undefined,
  jobs: readonly MeterReadingsBytesJob[],
  minReadings = 1000,
): Promise<Uint8Array[]> {
  if (!pool || readingCount(jobs) < minReadings)
    return jobs.map((job) => encodeMeterReadingsBytes(job.readings, job.options));
  return encodeMeterReadingsInPool(pool, pooledJobs(jobs));
}

/**
 * The same bytes as `encodeMeterReadingsMessagesBytes`, lent (`encodeMeterReadingsLeased`):
 * views into the output arenas, valid until `release()`. For CimPublisher with an out dir
 * (session 17): it writes the bytes to their files and hands them to live subscribers, keeps
 * only each message's metadata (a resuming subscriber reads the files) and then releases, so
 * the arenas are reused and nothing is copied or allocated per message. Inline (no pool, or a
 * batch under `minReadings`) the bytes are the caller's own and `release` does nothing.
 */
export async function encodeMeterReadingsMessagesLeased(
  pool: Pick<WorkerPool, 'runPipelined' | 'threads'> | undefined,
  jobs: readonly MeterReadingsBytesJob[],
  minReadings = 1000,
): Promise<LeasedMessages> {
  if (!pool || readingCount(jobs) < minReadings)
    return {
      bytes: jobs.map((job) => encodeMeterReadingsBytes(job.readings, job.options)),
      release: () => {},
    };
  return encodeMeterReadingsLeased(pool, pooledJobs(jobs));
}

function readingCount(jobs: readonly MeterReadingsBytesJob[]): number {
  return jobs.reduce((n, j) => n + j.readings.length, 0);
}

/** The jobs as the pool takes them: the clock read here, once per message, as the inline encoder would. */
function pooledJobs(jobs: readonly MeterReadingsBytesJob[]): MeterReadingsMessageJob[] {
  return jobs.map(({ readings, options }) => {
    const { clock, verb, ...rest } = options;
    if (verb !== undefined && verb !== 'created')
      throw new ColumnarBatchError(`the pool encodes MeterReadings with verb "created" only, got "${verb}"`);
    return { readings, options: { ...rest, timestampMs: (clock ?? systemClock).now() } };
  });
}
