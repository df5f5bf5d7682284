import type { DeviceEffect } from '../device/state.js';
import { invalidInput } from '../domain/errors.js';
import type { Job, JobKind } from '../domain/jobs.js';
import type { TLogRecord } from '../tlog/records.js';

/**
 * A worker for one job kind (the seed's Worker Service): it holds the jobs queued and
 * executing in its state, drives device actors and turns their results into TLog records and
 * an attempt result for the jobs manager.
 */

export type WorkerAssignment = { job: Job; attempt: number };

export type WorkerState = {
  kind: JobKind;
  maxExecuting: number;
  maxQueued: number;
  queued: WorkerAssignment[];
  /** `${jobId}@${attempt}` -> assignment and when it started. */
  executing: Record<string, WorkerAssignment & { startedAtMs: number }>;
  /** How many `executing` holds (counting its keys per started job was a scan per start). */
  executingCount: number;
};

type Completed = Extract<DeviceEffect, { type: 'completed' }>;
type Failed = Extract<DeviceEffect, { type: 'failed' }>;

export type WorkerCommand =
  | { type: 'assign'; job: Job; attempt: number }
  | { type: 'deviceCompleted'; result: Completed }
  | { type: 'deviceFailed'; result: Failed };

export type WorkerEffect =
  | { type: 'deviceRequest'; concentratorId: string; job: Job; attempt: number }
  | { type: 'tlog'; records: TLogRecord[] }
  | {
      type: 'attemptResult';
      jobId: string;
      attempt: number;
      result:
        | { ok: true; oldestCollectedMs?: number; failedMeters?: string[] }
        | { ok: false; retryable: boolean; errorCode: string; errorMessage: string };
    };

type AttemptResultOf = Extract<WorkerEffect, { type: 'attemptResult' }>['result'];

export type WorkerResult = { state: WorkerState; effects: WorkerEffect[] };

export function newWorker(kind: JobKind, maxExecuting = 256, maxQueued = 100_000): WorkerState {
  return { kind, maxExecuting, maxQueued, queued: [], executing: {}, executingCount: 0 };
}

const key = (jobId: string, attempt: number): string => `${jobId}@${attempt}`;

export function applyWorkerCommand(state: WorkerState, command: WorkerCommand, nowMs: number): WorkerResult {
  // A state written before executingCount existed is counted once.
  state.executingCount ??= Object.keys(state.executing).length;
  switch (command.type) {
    case 'assign': {
      if (command.job.kind !== state.kind)
        throw invalidInput(`worker ${state.kind} cannot run a ${command.job.kind} job`, {
          jobId: command.job.id,
        });
      const k = key(command.job.id, command.attempt);
      if (state.executing[k] || state.queued.some((a) => key(a.job.id, a.attempt) === k))
        return { state, effects: [] };
      if (state.queued.length >= state.maxQueued)
        return {
          state,
          effects: [
            {
              type: 'attemptResult',
              jobId: command.job.id,
              attempt: command.attempt,
              result: {
                ok: false,
                retryable: true,
                errorCode: 'MF_HEADEND_QUEUE_FULL',
                errorMessage: `worker ${state.kind} has ${state.maxQueued} jobs queued`,
              },
            },
          ],
        };
      state.queued.push({ job: command.job, attempt: command.attempt });
      return { state, effects: startMore(state, nowMs) };
    }
    case 'deviceCompleted': {
      const { job, attempt } = command.result;
      const k = key(job.id, attempt);
      if (!state.executing[k]) return { state, effects: [] };
      delete state.executing[k];
      state.executingCount -= 1;
      const records = toRecords(command.result, nowMs);
      const effects: WorkerEffect[] = [];
      if (records.length > 0) effects.push({ type: 'tlog', records });
      effects.push({
        type: 'attemptResult',
        jobId: job.id,
        attempt,
        result: attemptResultOf(command.result),
      });
      effects.push(...startMore(state, nowMs));
      return { state, effects };
    }
    case 'deviceFailed': {
      const { job, attempt, retryable, errorCode, errorMessage } = command.result;
      const k = key(job.id, attempt);
      if (!state.executing[k]) return { state, effects: [] };
      delete state.executing[k];
      state.executingCount -= 1;
      return {
        state,
        effects: [
          {
            type: 'attemptResult',
            jobId: job.id,
            attempt,
            result: { ok: false, retryable, errorCode, errorMessage },
          },
          ...startMore(state, nowMs),
        ],
      };
    }
  }
}

/** What a completed device request means for the job's attempt. */
function attemptResultOf(result: Completed): AttemptResultOf {
  const init = initAttemptResult(result);
  if (init) return init;
  const failedControls = result.controlResults.filter((c) => !c.ok);
  if (failedControls.length > 0)
    return {
      ok: false,
      retryable: false,
      errorCode: 'MF_DEVICE_CONTROL_FAILED',
      errorMessage: failedControls.map((c) => `${c.meterSerial}: ${c.detail ?? 'refused'}`).join('; '),
    };
  return {
    ok: true,
    ...(result.oldestCollectedMs !== undefined ? { oldestCollectedMs: result.oldestCollectedMs } : {}),
  };
}

/** Meters named in a failure message, at most; the rest are counted (the message stays bounded). */
const maxNamedFailures = 10;

/**
 * An initialization attempt: every meter initialized is a success; some failed is a success
 * naming the failed meters (retrying the whole job would initialize the others again, so the
 * work manager retries just these as a new job); all failed is a retryable failure.
 */
function initAttemptResult(result: Completed): AttemptResultOf | undefined {
  if (result.job.params.kind !== 'initialization' || result.initResults === undefined) return undefined;
  const failed = result.initResults.filter((r) => !r.ok);
  if (failed.length === 0) return { ok: true };
  if (failed.length < result.initResults.length)
    return { ok: true, failedMeters: failed.map((r) => r.meterSerial) };
  const named = failed
    .slice(0, maxNamedFailures)
    .map((r) => `${r.meterSerial}: ${r.detail ?? 'refused'}`)
    .join('; ');
  const more = failed.length > maxNamedFailures ? `; and ${failed.length - maxNamedFailures} more` : '';
  return {
    ok: false,
    retryable: true,
    errorCode: 'MF_DEVICE_INIT_FAILED',
    errorMessage: `no meter of the job was initialized: ${named}${more}`,
  };
}

function startMore(state: WorkerState, nowMs: number): WorkerEffect[] {
  const effects: WorkerEffect[] = [];
  while (state.executingCount < state.maxExecuting) {
    const next = state.queued.shift();
    if (!next) break;
    state.executing[key(next.job.id, next.attempt)] = { ...next, startedAtMs: nowMs };
    state.executingCount += 1;
    effects.push({
      type: 'deviceRequest',
      concentratorId: next.job.concentratorId,
      job: next.job,
      attempt: next.attempt,
    });
  }
  return effects;
}

function toRecords(result: Completed, nowMs: number): TLogRecord[] {
  const { job } = result;
  const concentratorId = job.concentratorId;
  const correlation = job.correlationId !== undefined ? { correlationId: job.correlationId } : {};
  const records: TLogRecord[] = [];
  for (const reading of result.readings)
    records.push({ type: 'reading', reading, concentratorId, collectedAtMs: nowMs, ...correlation });
  for (const event of result.events)
    records.push({ type: 'event', event, concentratorId, collectedAtMs: nowMs });
  for (const sample of result.statusWords)
    records.push({
      type: 'statusWord',
      meterSerial: sample.meterSerial,
      concentratorId,
      word: sample.word,
      timestampMs: sample.timestampMs,
      collectedAtMs: nowMs,
    });
  if (job.params.kind === 'deviceControl') {
    for (const control of result.controlResults)
      records.push({
        type: 'workOrderResult',
        jobId: job.id,
        concentratorId,
        meterSerial: control.meterSerial,
        action: control.action,
        ok: control.ok,
        collectedAtMs: nowMs,
        ...correlation,
        ...(control.detail !== undefined ? { detail: control.detail } : {}),
      });
  }
  if (job.params.kind === 'meterReading' && job.correlationId !== undefined) {
    for (const serial of new Set(result.readings.map((r) => r.meterSerial)))
      records.push({
        type: 'workOrderResult',
        jobId: job.id,
        concentratorId,
        meterSerial: serial,
        action: 'meterReading',
        ok: true,
        collectedAtMs: nowMs,
        ...correlation,
      });
  }
  return records;
}
