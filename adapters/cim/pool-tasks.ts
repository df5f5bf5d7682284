import { threadId } from 'node:worker_threads';
import { type ArenaLayout, checkArena } from '../../cluster/pool/output-arena.js';
import { transferListOf, type WithTransfer, withTransfer } from '../../cluster/pool/transfer.js';
import type { CollectedReading } from '../field-data.js';
import {
  ColumnarBatchError,
  checkListEnds,
  checkReadingColumns,
  type ReadingColumns,
  type ReadingListColumns,
  readingListColumns,
} from './columnar-readings.js';
import { type EndDeviceEventInput, encodeEndDeviceEvents } from './end-device-events.js';
import { encodeMeterReadings, outboundHeader } from './meter-readings.js';
import { encodeMeterReadingsColumnsBytes, encodeMeterReadingsColumnsInto } from './meter-readings-xml.js';
import type { MessageProperty } from './model.js';
import { columnsFromPacked, type PackedReadings } from './packed-readings.js';
import type { ReadingTypeProfile } from './reading-type-map.js';

/**
 * CIM encoders as pool tasks (cluster/pool): batch-shaped, structured-clone-able in and out.
 * `pool.run({ module: 'adapters/cim/pool-tasks', fn: 'encodeMeterReadingsMessages', payload: jobs })`.
 * The clock cannot cross into a worker, so each job carries its header timestamp.
 * The `…Columnar` tasks take readings packed by `packReadings` (columnar-readings.ts) and are
 * the ones worth using: cloning reading objects costs more than encoding them.
 */
export type PoolMessageOptions = {
  source?: string;
  messageId?: string;
  correlationId?: string;
  properties?: MessageProperty[];
  profile?: ReadingTypeProfile;
  timestampMs: number;
};

export type MeterReadingsJob = { readings: CollectedReading[]; options: PoolMessageOptions };
export type EndDeviceEventsJob = { events: EndDeviceEventInput[]; options: PoolMessageOptions };
/** One MeterReadings message whose readings are packed (see columnar-readings.ts). */
export type ColumnarMeterReadingsJob = { columns: ReadingColumns; options: PoolMessageOptions };

/** Upper bound of messages in one task. */
export const maxJobsPerTask = 1000;

function messageOptions(o: PoolMessageOptions) {
  const { timestampMs, ...rest } = o;
  return { ...rest, clock: { now: () => timestampMs } };
}

function checkJobs(jobs: unknown): asserts jobs is unknown[] {
  if (!Array.isArray(jobs) || jobs.length > maxJobsPerTask)
    throw new ColumnarBatchError(`a CIM pool task takes an array of at most ${maxJobsPerTask} jobs`);
}

/** One EventMessage per job. */
export function encodeMeterReadingsMessages(jobs: MeterReadingsJob[]): string[] {
  return jobs.map((job) => encodeMeterReadings(job.readings, messageOptions(job.options)));
}

export function encodeEndDeviceEventsMessages(jobs: EndDeviceEventsJob[]): string[] {
  return jobs.map((job) => encodeEndDeviceEvents(job.events, messageOptions(job.options)));
}

function headerOf(job: { options: PoolMessageOptions }) {
  if (typeof job !== 'object' || job === null || typeof job.options?.timestampMs !== 'number')
    throw new ColumnarBatchError('a MeterReadings job needs its readings and options.timestampMs');
  const options = messageOptions(job.options);
  return { header: outboundHeader('MeterReadings', options), profile: options.profile ?? 'standard' };
}

function checkedJob(job: ColumnarMeterReadingsJob) {
  const header = headerOf(job);
  checkReadingColumns(job.columns);
  return header;
}

/** Straight from the columns to UTF-8 (no reading objects, no string): what `encodeMeterReadingsBytes` runs. */
function encodeColumnarJob(job: ColumnarMeterReadingsJob): Uint8Array {
  const { header, profile } = checkedJob(job);
  return encodeMeterReadingsColumnsBytes(job.columns, header, profile);
}

/** A task's messages and the arena (moved in, moved back) to write them into (cluster/pool/output-arena.ts). */
export type ArenaMeterReadingsTask = { jobs: ColumnarMeterReadingsJob[]; arena: ArrayBuffer };

/**
 * One EventMessage per job written one after another into the caller's arena, in place: no
 * buffer per message; the arena moves back with the offsets. A message that does not fit in
 * what is left of the arena comes back in a buffer of its own (moved). The caller reads the
 * messages with `arenaMessage` and reuses the arena once it has taken them out.
 */
export function encodeMeterReadingsColumnarInto(task: ArenaMeterReadingsTask): WithTransfer<ArenaLayout> {
  return encodeIntoArena(task, (job: ColumnarMeterReadingsJob) => {
    checkReadingColumns(job.columns);
    return job.columns;
  });
}

/**
 * A task's messages as one packed batch (`packReadingLists`): list i of the columns is message
 * i's readings, `options[i]` its header. What the caller sends since session 20 (one set of
 * column buffers and one table per task instead of one per message).
 */
export type ArenaReadingListsTask = ReadingListColumns & {
  options: PoolMessageOptions[];
  arena: ArrayBuffer;
};

/**
 * The same messages and bytes as `encodeMeterReadingsColumnarInto` with one job per list. The
 * batch is checked whole (every index, every list end) before anything is written.
 */
export function encodeMeterReadingListsInto(task: ArenaReadingListsTask): WithTransfer<ArenaLayout> {
  if (typeof task !== 'object' || task === null)
    throw new ColumnarBatchError('an arena task needs columns, list ends, options and an arena');
  checkJobs(task.options);
  checkReadingColumns(task.columns);
  checkListEnds(task.ends, task.columns.count, task.options.length);
  if (task.ends.length !== task.options.length)
    throw new ColumnarBatchError(
      `a task of ${task.options.length} messages came with ${task.ends.length} list ends`,
    );
  const batch: ReadingListColumns = { columns: task.columns, ends: task.ends };
  const jobs = task.options.map((options) => ({ options }));
  return encodeIntoArena({ jobs, arena: task.arena }, (_, i) => readingListColumns(batch, i));
}

/** One MeterReadings message whose readings are in the cluster's packed form (packed-readings.ts). */
export type PackedMeterReadingsJob = { packed: PackedReadings; options: PoolMessageOptions };
export type ArenaPackedMeterReadingsTask = { jobs: PackedMeterReadingsJob[]; arena: ArrayBuffer };

/**
 * The same as `encodeMeterReadingsColumnarInto` for readings in the stream's packed form:
 * the worker reads the runs straight into the encoder's columns (`columnsFromPacked`), so the
 * caller neither unpacks reading objects nor packs columns. A malformed or forged list fails
 * the whole task (MF_POOL_BATCH_INVALID) before anything of it is written.
 */
export function encodeMeterReadingsPackedInto(task: ArenaPackedMeterReadingsTask): WithTransfer<ArenaLayout> {
  if (typeof task !== 'object' || task === null)
    throw new ColumnarBatchError('an arena task needs jobs and an arena');
  checkJobs(task.jobs);
  // Every list is read (and checked) before the first message is written: the task fails whole.
  const columns = task.jobs.map((job) => {
    if (typeof job !== 'object' || job === null)
      throw new ColumnarBatchError('a packed MeterReadings job needs packed and options');
    return columnsFromPacked(job.packed);
  });
  return encodeIntoArena(task, (_, i) => columns[i]!);
}

function encodeIntoArena<J extends { options: PoolMessageOptions }>(
  task: { jobs: J[]; arena: ArrayBuffer },
  columnsFor: (job: J, index: number) => ReadingColumns,
): WithTransfer<ArenaLayout> {
  if (typeof task !== 'object' || task === null)
    throw new ColumnarBatchError('an arena task needs jobs and an arena');
  const arena = checkArena(task.arena);
  checkJobs(task.jobs);
  const spans: number[] = [];
  const spilled: Record<number, Uint8Array> = {};
  let offset = 0;
  for (const [i, job] of task.jobs.entries()) {
    const { header, profile } = headerOf(job);
    const written = encodeMeterReadingsColumnsInto(
      columnsFor(job, i),
      header,
      profile,
      new Uint8Array(arena, offset),
    );
    if (typeof written === 'number') {
      spans.push(offset, written);
      offset += written;
    } else {
      spans.push(-1, 0);
      spilled[i] = written;
    }
  }
  return withTransfer({ spans, spilled, arena }, [arena, ...transferListOf(Object.values(spilled))]);
}

const utf8 = new TextDecoder();

/**
 * One EventMessage per job as UTF-8 bytes, each in an ArrayBuffer of its own that moves to the
 * caller without a copy (and is ready for a file or a socket as it is).
 */
export function encodeMeterReadingsColumnar(jobs: ColumnarMeterReadingsJob[]): WithTransfer<Uint8Array[]> {
  checkJobs(jobs);
  const out = jobs.map(encodeColumnarJob);
  return withTransfer(out, transferListOf(out));
}

/** The same returning strings, for callers that need text (the copy back costs more). */
export function encodeMeterReadingsColumnarText(jobs: ColumnarMeterReadingsJob[]): string[] {
  checkJobs(jobs);
  return jobs.map((job) => utf8.decode(encodeColumnarJob(job)));
}

/**
 * Benchmark probe of the pool's ceiling: encodes one packed message `repeat` times where it
 * runs, to UTF-8 bytes as `encodeMeterReadingsColumnar` does, and returns the bytes produced,
 * so nothing but the encoding itself is measured (one small message each way per `repeat`
 * encodes). Bounded like any task.
 */
export function encodeMeterReadingsRepeatedly(payload: {
  job: ColumnarMeterReadingsJob;
  repeat: number;
}): number {
  const repeat = payload?.repeat;
  if (!Number.isSafeInteger(repeat) || repeat < 1 || repeat > 1000)
    throw new ColumnarBatchError('repeat must be an integer from 1 to 1000');
  let bytes = 0;
  for (let i = 0; i < repeat; i++) bytes += encodeColumnarJob(payload.job).byteLength;
  return bytes;
}

/**
 * Benchmark probe of how evenly tasks spread over the workers: encodes like
 * `encodeMeterReadingsColumnar` (same work, bytes included) and returns, instead of the bytes,
 * the thread it ran on and how long the work took there.
 */
export function encodeMeterReadingsColumnarProbe(jobs: ColumnarMeterReadingsJob[]): {
  threadId: number;
  /** When the work began, ms since the epoch (performance.timeOrigin-based: comparable across threads). */
  startedAtMs: number;
  busyMs: number;
  bytes: number;
} {
  const t0 = performance.now();
  checkJobs(jobs);
  let bytes = 0;
  for (const job of jobs) bytes += encodeColumnarJob(job).byteLength;
  return { threadId, startedAtMs: performance.timeOrigin + t0, busyMs: performance.now() - t0, bytes };
}
