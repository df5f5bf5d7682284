import { invariant } from '../../core/errors.js';
import { HeadendError } from '../domain/errors.js';
import { type Job, type JobKind, type JobOutcome, jobKinds } from '../domain/jobs.js';
import { failedMetersOf, validateJob } from './job-checks.js';
import { forgetOldestOutcomesOverCap, pruneOutcomes } from './outcome-memory.js';
import { insertBackoff, noteQueued, park, releaseDueRetries, unpark } from './waiting.js';

/**
 * The jobs manager as a pure state machine (the seed's "Jobs Manager": high and normal
 * priority queues, dispatch to the worker of the job's kind). Decisions only: the driver
 * persists the state, sends `dispatch` effects to workers and reports attempt results back.
 *
 * Invariants: a job id is accepted once (duplicates are ignored, also after it finished,
 * within outcomeRetentionMs); a job's outcome is recorded once; in-flight counts never exceed
 * the per-kind and per-concentrator limits; a high-priority job that fits the limits is
 * always dispatched before any normal one.
 */

export type JobsManagerConfig = {
  maxQueuedJobs: number;
  maxInFlightPerKind: Record<JobKind, number>;
  /** Devices talk to a concentrator one request at a time; more in flight would only queue there. */
  maxInFlightPerConcentrator: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** An attempt with no result after this long counts as failed (the worker or its node died). */
  attemptTimeoutMs: number;
  /** Finished jobs are remembered this long to ignore resubmitted duplicates... */
  outcomeRetentionMs: number;
  /** ...but at most this many (the oldest are forgotten first), so the state stays bounded. */
  maxRememberedOutcomes: number;
};

export const defaultJobsManagerConfig: JobsManagerConfig = {
  maxQueuedJobs: 200_000,
  maxInFlightPerKind: {
    meterReading: 256,
    loadProfile: 1024,
    dailyClosure: 1024,
    initialization: 128,
    deviceControl: 256,
  },
  maxInFlightPerConcentrator: 1,
  backoffBaseMs: 5_000,
  backoffMaxMs: 5 * 60_000,
  attemptTimeoutMs: 10 * 60_000,
  outcomeRetentionMs: 3 * 86_400_000,
  maxRememberedOutcomes: 1_000_000,
};

export type JobEntry = {
  job: Job;
  /** Attempts started so far; the current in-flight attempt has this number. */
  attempts: number;
  /** A retry waits for its backoff: not dispatched before this instant. */
  notBeforeMs: number;
  /** backoff: a retry waiting for notBeforeMs, kept out of the queues until then. */
  /** parked: due and its kind has a slot, but its concentrator is busy; back in the queue when it frees. */
  phase: 'queued' | 'backoff' | 'parked' | 'inFlight';
  dispatchedAtMs?: number;
  lastErrorCode?: string;
  lastErrorMessage?: string;
};

export type JobsManagerState = {
  config: JobsManagerConfig;
  /** Job ids in arrival order per priority; entries hold the jobs. */
  queues: { high: string[]; normal: string[] };
  /**
   * Retries waiting for their backoff, by notBeforeMs (ties in arrival order); a tick moves
   * the due ones to the back of their queue. Kept apart because a tick would otherwise walk
   * past every one of them: with 10,000 concentrators unreachable that made each attempt
   * result cost a scan of 20,000 waiting jobs.
   */
  backoff: string[];
  /**
   * Per concentrator, jobs that found it busy (one request at a time): a tick would otherwise
   * walk past each of them again after every attempt result (10,000 concentrators, each with a
   * load profile and an initialization job, made a bulk import's dispatch quadratic). They go
   * back to the end of their queue when the concentrator's slot frees.
   */
  parked: Record<string, string[]>;
  parkedCount: number;
  entries: Record<string, JobEntry>;
  inFlightByKind: Record<JobKind, number>;
  inFlightByConcentrator: Record<string, number>;
  outcomes: Record<string, JobOutcome>;
  /**
   * The indexes below keep a tick from scanning every entry and outcome (it runs after every
   * attempt result, so full scans made a day quadratic in its job count). All plain data, so
   * the state still snapshots as JSON; a state without them is re-indexed on its next command.
   *
   * Finished job ids, oldest first: outcomes are forgotten from the front.
   */
  outcomeOrder: string[];
  /** When outcomes were last pruned by age (pruning runs at most every retention/16). */
  outcomesPrunedAtMs?: number;
  /** Jobs in phase `queued` per kind: a tick stops scanning once no kind with a free slot has any left. */
  queuedByKind: Record<JobKind, number>;
  /** No in-flight attempt times out before this instant (absent: none in flight). */
  nextAttemptTimeoutMs?: number;
  /** No queued job's deadline is before this instant (absent: none queued). */
  nextQueuedDeadlineMs?: number;
};

export type AttemptResult =
  /** failedMeters: an initialization that succeeded for the job's other meters only. */
  | { ok: true; oldestCollectedMs?: number; failedMeters?: string[] }
  | { ok: false; retryable: boolean; errorCode: string; errorMessage: string };

export type JobsManagerCommand =
  | { type: 'submit'; job: Job }
  | { type: 'attemptResult'; jobId: string; attempt: number; result: AttemptResult }
  /** Expire, time out, prune and dispatch; the driver calls it after every change and on a timer. */
  | { type: 'tick' };

export type JobsManagerEffect =
  | { type: 'dispatch'; job: Job; attempt: number }
  | { type: 'outcome'; outcome: JobOutcome; job: Job }
  | { type: 'duplicateIgnored'; jobId: string };

export type JobsManagerResult = { state: JobsManagerState; effects: JobsManagerEffect[] };

export function newJobsManager(config: Partial<JobsManagerConfig> = {}): JobsManagerState {
  const merged = { ...defaultJobsManagerConfig, ...config };
  return {
    config: merged,
    queues: { high: [], normal: [] },
    backoff: [],
    parked: {},
    parkedCount: 0,
    entries: {},
    inFlightByKind: zeroPerKind(),
    inFlightByConcentrator: {},
    outcomes: {},
    outcomeOrder: [],
    queuedByKind: zeroPerKind(),
  };
}

function zeroPerKind(): Record<JobKind, number> {
  return Object.fromEntries(jobKinds.map((k) => [k, 0])) as Record<JobKind, number>;
}

/** Rebuilds the indexes of a state written before they existed (e.g. an older snapshot). */
function ensureIndexes(state: JobsManagerState): void {
  // Older states keep their retries in the queues (phase queued, notBeforeMs ahead): still served.
  state.backoff ??= [];
  state.parked ??= {};
  state.parkedCount ??= 0;
  state.config.maxRememberedOutcomes ??= defaultJobsManagerConfig.maxRememberedOutcomes;
  if (state.queuedByKind !== undefined && state.outcomeOrder !== undefined) return;
  state.queuedByKind = zeroPerKind();
  delete state.nextAttemptTimeoutMs;
  delete state.nextQueuedDeadlineMs;
  for (const entry of Object.values(state.entries)) {
    if (entry.phase === 'queued') noteQueued(state, entry);
    else if (entry.dispatchedAtMs !== undefined) noteDispatched(state, entry.dispatchedAtMs);
  }
  state.outcomeOrder = Object.values(state.outcomes)
    .sort((a, b) => a.finishedAtMs - b.finishedAtMs)
    .map((o) => o.jobId);
}

export function applyJobsManagerCommand(
  state: JobsManagerState,
  command: JobsManagerCommand,
  nowMs: number,
): JobsManagerResult {
  ensureIndexes(state);
  switch (command.type) {
    case 'submit':
      return submit(state, command.job, nowMs);
    case 'attemptResult':
      return attemptResult(state, command.jobId, command.attempt, command.result, nowMs);
    case 'tick':
      return tick(state, nowMs);
  }
}

/** Jobs waiting for a slot or for their backoff (what maxQueuedJobs bounds). */
export function queuedCount(state: JobsManagerState): number {
  return state.queues.high.length + state.queues.normal.length + state.backoff.length + state.parkedCount;
}

function submit(state: JobsManagerState, job: Job, nowMs: number): JobsManagerResult {
  validateJob(job);
  if (state.entries[job.id] || state.outcomes[job.id])
    return { state, effects: [{ type: 'duplicateIgnored', jobId: job.id }] };
  if (queuedCount(state) >= state.config.maxQueuedJobs)
    throw new HeadendError(
      'MF_HEADEND_QUEUE_FULL',
      `the jobs queue holds its maximum of ${state.config.maxQueuedJobs} jobs: retry later`,
      { jobId: job.id },
    );
  const entry: JobEntry = { job, attempts: 0, notBeforeMs: nowMs, phase: 'queued' };
  state.entries[job.id] = entry;
  state.queues[job.priority].push(job.id);
  noteQueued(state, entry);
  return { state, effects: [] };
}

function attemptResult(
  state: JobsManagerState,
  jobId: string,
  attempt: number,
  result: AttemptResult,
  nowMs: number,
): JobsManagerResult {
  const entry = state.entries[jobId];
  // Finished already, unknown, or a late answer of an attempt that was timed out: ignore, so
  // an outcome is recorded once.
  if (entry?.phase !== 'inFlight' || entry.attempts !== attempt) return { state, effects: [] };
  releaseSlot(state, entry.job);
  if (result.ok) {
    return {
      state,
      effects: [
        finish(state, entry, nowMs, {
          status: 'succeeded',
          ...(result.oldestCollectedMs !== undefined ? { oldestCollectedMs: result.oldestCollectedMs } : {}),
          ...(result.failedMeters !== undefined && result.failedMeters.length > 0
            ? { failedMeters: failedMetersOf(entry.job, result.failedMeters) }
            : {}),
        }),
      ],
    };
  }
  entry.lastErrorCode = result.errorCode;
  entry.lastErrorMessage = result.errorMessage;
  return { state, effects: retryOrFail(state, entry, result.retryable, nowMs) };
}

function retryOrFail(
  state: JobsManagerState,
  entry: JobEntry,
  retryable: boolean,
  nowMs: number,
): JobsManagerEffect[] {
  const delayMs = Math.min(state.config.backoffMaxMs, state.config.backoffBaseMs * 2 ** (entry.attempts - 1));
  if (!retryable || entry.attempts >= entry.job.maxAttempts) {
    return [
      finish(state, entry, nowMs, {
        status: 'failed',
        errorCode: entry.lastErrorCode ?? 'MF_JOB_FAILED',
        errorMessage: `${entry.lastErrorMessage ?? 'failed'} (after ${entry.attempts} of ${entry.job.maxAttempts} attempts)`,
      }),
    ];
  }
  if (nowMs + delayMs >= entry.job.deadlineMs) return [deadlineFailure(state, entry, nowMs)];
  entry.phase = 'backoff';
  entry.notBeforeMs = nowMs + delayMs;
  delete entry.dispatchedAtMs;
  insertBackoff(state, entry);
  return [];
}

function noteDispatched(state: JobsManagerState, dispatchedAtMs: number): void {
  const timeoutAtMs = dispatchedAtMs + state.config.attemptTimeoutMs;
  const next = state.nextAttemptTimeoutMs;
  if (next === undefined || timeoutAtMs < next) state.nextAttemptTimeoutMs = timeoutAtMs;
}

function tick(state: JobsManagerState, nowMs: number): JobsManagerResult {
  const effects: JobsManagerEffect[] = [];
  timeOutAttempts(state, nowMs, effects);
  pruneOutcomes(state, nowMs);
  releaseDueRetries(state, nowMs);
  dispatchQueued(state, nowMs, effects);
  return { state, effects };
}

/** Fails in-flight attempts older than attemptTimeoutMs; scans only once one can be due. */
function timeOutAttempts(state: JobsManagerState, nowMs: number, effects: JobsManagerEffect[]): void {
  if (state.nextAttemptTimeoutMs === undefined || nowMs < state.nextAttemptTimeoutMs) return;
  delete state.nextAttemptTimeoutMs;
  for (const entry of Object.values(state.entries)) {
    if (entry.phase !== 'inFlight' || entry.dispatchedAtMs === undefined) continue;
    if (nowMs - entry.dispatchedAtMs >= state.config.attemptTimeoutMs) {
      releaseSlot(state, entry.job);
      entry.lastErrorCode = 'MF_JOB_ATTEMPT_TIMEOUT';
      entry.lastErrorMessage = `attempt ${entry.attempts} got no result within ${state.config.attemptTimeoutMs} ms`;
      effects.push(...retryOrFail(state, entry, true, nowMs));
    } else noteDispatched(state, entry.dispatchedAtMs);
  }
}

/**
 * Dispatches queued jobs that fit the limits: high priority first, then normal, each in
 * arrival order. The scan stops as soon as no kind that still has a free slot has queued jobs
 * left further down (the usual case once a kind is saturated: thousands of queued jobs, a
 * tick per attempt result); it covers every queued job when one's deadline may have passed.
 */
function dispatchQueued(state: JobsManagerState, nowMs: number, effects: JobsManagerEffect[]): void {
  const deadlineDue = state.nextQueuedDeadlineMs !== undefined && nowMs >= state.nextQueuedDeadlineMs;
  if (deadlineDue) delete state.nextQueuedDeadlineMs;
  const unscanned = { ...state.queuedByKind };
  // Kinds with a free slot and queued jobs not yet scanned: recounted only when one of the two changes.
  const countOpen = (): number =>
    jobKinds.filter((k) => unscanned[k] > 0 && state.inFlightByKind[k] < state.config.maxInFlightPerKind[k])
      .length;
  let open = countOpen();
  for (const priority of ['high', 'normal'] as const) {
    const queue = state.queues[priority];
    const remaining: string[] = [];
    let i = 0;
    for (; i < queue.length; i++) {
      if (open === 0 && !deadlineDue) break;
      const jobId = queue[i] as string;
      const entry = state.entries[jobId];
      if (entry?.phase !== 'queued') continue; // finished or re-queued elsewhere
      const kind = entry.job.kind;
      unscanned[kind] -= 1;
      if (unscanned[kind] === 0) open = countOpen();
      if (nowMs >= entry.job.deadlineMs) {
        effects.push(deadlineFailure(state, entry, nowMs));
        continue;
      }
      // Parked only behind an attempt in flight, whose result (or timeout) unparks it; a parked
      // job past its deadline fails then, never starting another attempt.
      if (
        entry.notBeforeMs <= nowMs &&
        kindHasSlot(state, entry.job) &&
        !concentratorHasSlot(state, entry.job) &&
        (state.inFlightByConcentrator[entry.job.concentratorId] ?? 0) > 0
      ) {
        park(state, entry);
        continue;
      }
      if (entry.notBeforeMs > nowMs || !hasSlot(state, entry.job)) {
        remaining.push(jobId);
        if (deadlineDue) noteQueuedDeadline(state, entry.job.deadlineMs);
        continue;
      }
      entry.phase = 'inFlight';
      entry.attempts += 1;
      entry.dispatchedAtMs = nowMs;
      state.queuedByKind[entry.job.kind] -= 1;
      takeSlot(state, entry.job);
      if (state.inFlightByKind[kind] >= state.config.maxInFlightPerKind[kind]) open = countOpen();
      noteDispatched(state, nowMs);
      effects.push({ type: 'dispatch', job: entry.job, attempt: entry.attempts });
    }
    if (remaining.length !== i)
      state.queues[priority] = i < queue.length ? remaining.concat(queue.slice(i)) : remaining;
  }
}

function noteQueuedDeadline(state: JobsManagerState, deadlineMs: number): void {
  const next = state.nextQueuedDeadlineMs;
  if (next === undefined || deadlineMs < next) state.nextQueuedDeadlineMs = deadlineMs;
}

function deadlineFailure(state: JobsManagerState, entry: JobEntry, nowMs: number): JobsManagerEffect {
  const last = entry.lastErrorMessage ? `; last error: ${entry.lastErrorMessage}` : '';
  return finish(state, entry, nowMs, {
    status: 'failed',
    errorCode: 'MF_JOB_DEADLINE',
    errorMessage: `job ${entry.job.id} timed out: deadline ${new Date(entry.job.deadlineMs).toISOString()} passed after ${entry.attempts} attempt(s)${last}`,
  });
}

function finish(
  state: JobsManagerState,
  entry: JobEntry,
  nowMs: number,
  result: Pick<JobOutcome, 'status' | 'errorCode' | 'errorMessage' | 'oldestCollectedMs' | 'failedMeters'>,
): JobsManagerEffect {
  invariant(!state.outcomes[entry.job.id], 'a job outcome is recorded once', { jobId: entry.job.id });
  const outcome: JobOutcome = {
    jobId: entry.job.id,
    attempts: entry.attempts,
    finishedAtMs: nowMs,
    ...result,
  };
  if (entry.phase === 'queued') state.queuedByKind[entry.job.kind] -= 1;
  state.outcomes[entry.job.id] = outcome;
  state.outcomeOrder.push(entry.job.id);
  forgetOldestOutcomesOverCap(state);
  delete state.entries[entry.job.id];
  return { type: 'outcome', outcome, job: entry.job };
}

function kindHasSlot(state: JobsManagerState, job: Job): boolean {
  return state.inFlightByKind[job.kind] < state.config.maxInFlightPerKind[job.kind];
}

function concentratorHasSlot(state: JobsManagerState, job: Job): boolean {
  return (state.inFlightByConcentrator[job.concentratorId] ?? 0) < state.config.maxInFlightPerConcentrator;
}

function hasSlot(state: JobsManagerState, job: Job): boolean {
  return kindHasSlot(state, job) && concentratorHasSlot(state, job);
}

function takeSlot(state: JobsManagerState, job: Job): void {
  state.inFlightByKind[job.kind] += 1;
  state.inFlightByConcentrator[job.concentratorId] =
    (state.inFlightByConcentrator[job.concentratorId] ?? 0) + 1;
}

function releaseSlot(state: JobsManagerState, job: Job): void {
  state.inFlightByKind[job.kind] -= 1;
  const left = (state.inFlightByConcentrator[job.concentratorId] ?? 0) - 1;
  invariant(left >= 0 && state.inFlightByKind[job.kind] >= 0, 'in-flight counts never go negative', {
    jobId: job.id,
  });
  if (left === 0) delete state.inFlightByConcentrator[job.concentratorId];
  else state.inFlightByConcentrator[job.concentratorId] = left;
  if (left < state.config.maxInFlightPerConcentrator) unpark(state, job.concentratorId);
}
