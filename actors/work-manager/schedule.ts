import { invalidInput } from '../domain/errors.js';
import { type Job, type JobOutcome, maxMetersPerJob } from '../domain/jobs.js';
import { localTime, previousDate } from '../domain/local-time.js';
import { requireId, requireInstant, requireTimeZone } from '../domain/validate.js';
import {
  defaultWorkManagerConfig,
  gapThresholdFor,
  validLoadProfileEveryMinutes,
  type WorkManagerConfig,
} from './config.js';
import {
  addCommissioned,
  dropConcentrator,
  type InitBatches,
  newInitBatches,
  nextInitJobId,
  settleMeters,
  takeAllBatches,
  takeFullBatch,
} from './initialization.js';

/**
 * The work manager as a pure state machine: it finds due activities and turns them into jobs
 * for the jobs manager. Job ids are derived from the activity (`dc:<conc>:<date>`,
 * `lp:<conc>:<slot>`, `init:<conc>:<batch>`), so a tick replayed after a failover produces the same ids and the
 * jobs manager drops the duplicates. A durable reminder calls tick() at nextDueMs().
 */

export {
  defaultWorkManagerConfig,
  gapThresholdFor,
  validLoadProfileEveryMinutes,
  type WorkManagerConfig,
} from './config.js';

export type ConcentratorSchedule = {
  timeZone: string;
  /** Local date (yyyy-mm-dd) on which the last daily closure was submitted. */
  lastClosureRunDate: string;
  /** Start of the last load profile slot a job was submitted for. */
  lastLoadProfileSlotMs: number;
  /** Oldest "last collected" load profile instant reported by the last load profile job. */
  oldestCollectedMs?: number;
  /** fromMs of the last recovery job, so one gap is recovered by one job. */
  lastRecoveryFromMs?: number;
};

/** What the work manager remembers of a job it submitted, to retry it once it finally fails. */
export type TrackedJob = { job: Job; retry: number; retryAtMs?: number };

export type WorkManagerState = {
  config: WorkManagerConfig;
  concentrators: Record<string, ConcentratorSchedule>;
  tracked: Record<string, TrackedJob>;
  /** How many jobs `tracked` holds (counting its keys per submitted job made provisioning quadratic). */
  trackedCount: number;
  /** No tracked job is due for a retry before this instant (absent: none waits for one). */
  nextRetryAtMs?: number;
  /** Commissioned meters waiting for, or in, their concentrator's initialization job. */
  init: InitBatches;
};

export type WorkManagerCommand =
  | { type: 'addConcentrator'; concentratorId: string; timeZone: string }
  | { type: 'removeConcentrator'; concentratorId: string }
  | { type: 'meterCommissioned'; meterSerial: string; concentratorId: string; atMs: number }
  | { type: 'jobOutcome'; outcome: JobOutcome }
  /**
   * Sets the load profile collection period (a job reads everything since the meter's last
   * collected value, so a longer period means fewer, larger collections), and the gap
   * threshold with it (`gapThresholdFor`) unless given.
   */
  | { type: 'configure'; loadProfileEveryMinutes: number; gapThresholdMs?: number }
  | { type: 'tick' };

export type WorkManagerEffect = { type: 'submitJob'; job: Job };

export type WorkManagerResult = { state: WorkManagerState; effects: WorkManagerEffect[] };

export function newWorkManager(config: Partial<WorkManagerConfig> = {}): WorkManagerState {
  const merged = { ...defaultWorkManagerConfig, ...config };
  validLoadProfileEveryMinutes(merged.loadProfileEveryMinutes);
  if (config.gapThresholdMs === undefined)
    merged.gapThresholdMs = gapThresholdFor(merged.loadProfileEveryMinutes);
  const perJob = merged.maxMetersPerInitJob;
  if (!(Number.isInteger(perJob) && perJob >= 1 && perJob <= maxMetersPerJob))
    throw invalidInput(`maxMetersPerInitJob must be an integer 1..${maxMetersPerJob}`);
  return { config: merged, concentrators: {}, tracked: {}, trackedCount: 0, init: newInitBatches() };
}

/** Counts what a state written before `trackedCount` existed tracks, and finds its next retry. */
function ensureCounts(state: WorkManagerState): void {
  // A state written before initialization was batched: its per-meter init jobs stay tracked
  // and finish as before; new commissionings are batched.
  state.init ??= newInitBatches();
  state.init.done ??= {};
  state.init.doneOrder ??= [];
  state.config.maxMetersPerInitJob ??= defaultWorkManagerConfig.maxMetersPerInitJob;
  if (state.trackedCount !== undefined) return;
  const tracked = Object.values(state.tracked);
  state.trackedCount = tracked.length;
  for (const t of tracked) if (t.retryAtMs !== undefined) noteRetry(state, t.retryAtMs);
}

function noteRetry(state: WorkManagerState, retryAtMs: number): void {
  if (state.nextRetryAtMs === undefined || retryAtMs < state.nextRetryAtMs) state.nextRetryAtMs = retryAtMs;
}

function untrack(state: WorkManagerState, jobId: string): void {
  if (!state.tracked[jobId]) return;
  delete state.tracked[jobId];
  state.trackedCount -= 1;
}

export function applyWorkManagerCommand(
  state: WorkManagerState,
  command: WorkManagerCommand,
  nowMs: number,
): WorkManagerResult {
  ensureCounts(state);
  switch (command.type) {
    case 'addConcentrator': {
      const id = requireId(command.concentratorId, 'concentrator id');
      const timeZone = requireTimeZone(command.timeZone, 'timeZone');
      const existing = state.concentrators[id];
      if (existing) {
        existing.timeZone = timeZone;
        return { state, effects: [] };
      }
      // Start from "now": the first closure is the next local midnight, the first load
      // profile the slot now running; history before registration is not collected.
      state.concentrators[id] = {
        timeZone,
        lastClosureRunDate: localTime(nowMs, timeZone).date,
        lastLoadProfileSlotMs: slotStart(nowMs, state.config) - slotMs(state.config),
      };
      return { state, effects: [] };
    }
    case 'removeConcentrator': {
      delete state.concentrators[command.concentratorId];
      dropConcentrator(state.init, command.concentratorId);
      return { state, effects: [] };
    }
    case 'meterCommissioned': {
      const meterSerial = requireId(command.meterSerial, 'meter serial');
      const concentratorId = requireId(command.concentratorId, 'concentrator id');
      const atMs = requireInstant(command.atMs, 'atMs');
      // Batched: the next tick submits the concentrator's batch, or now once it fills a job.
      if (!addCommissioned(state.init, meterSerial, concentratorId, atMs)) return { state, effects: [] };
      const full = takeFullBatch(state.init, concentratorId, state.config.maxMetersPerInitJob);
      return { state, effects: full ? submitInit(state, concentratorId, full, nowMs) : [] };
    }
    case 'jobOutcome':
      return onOutcome(state, command.outcome, nowMs);
    case 'configure': {
      const minutes = validLoadProfileEveryMinutes(command.loadProfileEveryMinutes);
      const gap = command.gapThresholdMs ?? gapThresholdFor(minutes);
      if (!(Number.isInteger(gap) && gap > minutes * 60_000))
        throw invalidInput('gapThresholdMs must be a whole number of ms longer than the collection period');
      // Each concentrator's next slot is the first one after its last: a period changed mid-day
      // neither repeats a collection nor skips data (the device reads from its cursors).
      state.config.loadProfileEveryMinutes = minutes;
      state.config.gapThresholdMs = gap;
      return { state, effects: [] };
    }
    case 'tick':
      return tick(state, nowMs);
  }
}

/** When tick() next has something to do (for the durable reminder). */
export function nextDueMs(state: WorkManagerState, nowMs: number): number {
  ensureCounts(state);
  if (state.init.pendingCount > 0) return nowMs;
  let next = slotStart(nowMs, state.config) + slotMs(state.config);
  if (state.nextRetryAtMs !== undefined && state.nextRetryAtMs < next) next = state.nextRetryAtMs;
  // Local midnights differ per zone; checking every 5 minutes around them is cheap and exact enough.
  const closureCheckMs = Math.ceil((nowMs + 1) / 300_000) * 300_000;
  return Math.max(nowMs, Math.min(next, closureCheckMs));
}

function tick(state: WorkManagerState, nowMs: number): WorkManagerResult {
  const effects: WorkManagerEffect[] = [];
  const { config } = state;
  for (const batch of takeAllBatches(state.init, config.maxMetersPerInitJob))
    effects.push(...submitInit(state, batch.concentratorId, batch.meters, nowMs));
  const currentSlot = slotStart(nowMs, config);
  // Local time once per zone, not per concentrator: Intl formatting is the costly part of a tick.
  const localByZone = new Map<string, ReturnType<typeof localTime>>();
  for (const [concentratorId, schedule] of Object.entries(state.concentrators)) {
    let local = localByZone.get(schedule.timeZone);
    if (!local) {
      local = localTime(nowMs, schedule.timeZone);
      localByZone.set(schedule.timeZone, local);
    }
    if (local.date > schedule.lastClosureRunDate && local.minuteOfDay >= config.dailyClosureDelayMinutes) {
      const closureDate = previousDate(local.date);
      schedule.lastClosureRunDate = local.date;
      effects.push(
        ...track(
          state,
          makeJob(config, {
            id: `dc:${concentratorId}:${closureDate}`,
            kind: 'dailyClosure',
            concentratorId,
            meterSerials: [],
            params: { kind: 'dailyClosure', closureDate },
            nowMs,
          }),
        ),
      );
    }
    // Only the current slot: a missed slot needs no job of its own because the device resumes
    // every meter from its last collected instant.
    if (currentSlot > schedule.lastLoadProfileSlotMs) {
      schedule.lastLoadProfileSlotMs = currentSlot;
      effects.push(
        ...track(
          state,
          makeJob(config, {
            id: `lp:${concentratorId}:${currentSlot}`,
            kind: 'loadProfile',
            concentratorId,
            meterSerials: [],
            params: { kind: 'loadProfile' },
            nowMs,
          }),
        ),
      );
    }
    const oldest = schedule.oldestCollectedMs;
    if (
      oldest !== undefined &&
      nowMs - oldest > config.gapThresholdMs &&
      (schedule.lastRecoveryFromMs === undefined || schedule.lastRecoveryFromMs < oldest)
    ) {
      schedule.lastRecoveryFromMs = oldest;
      effects.push(
        ...track(
          state,
          makeJob(config, {
            id: `n2p:${concentratorId}:${oldest}`,
            kind: 'loadProfile',
            concentratorId,
            meterSerials: [],
            params: { kind: 'loadProfile', fromMs: oldest },
            nowMs,
          }),
        ),
      );
    }
  }
  if (state.nextRetryAtMs !== undefined && state.nextRetryAtMs <= nowMs) {
    delete state.nextRetryAtMs;
    for (const [jobId, tracked] of Object.entries(state.tracked)) {
      if (tracked.retryAtMs === undefined) continue;
      if (tracked.retryAtMs > nowMs) {
        noteRetry(state, tracked.retryAtMs);
        continue;
      }
      untrack(state, jobId);
      const baseId = jobId.replace(/#r\d+$/, '');
      const retry = tracked.retry + 1;
      const job = { ...tracked.job, id: `${baseId}#r${retry}` };
      const fresh = makeJob(config, { ...job, nowMs });
      effects.push(...track(state, fresh, retry));
      if (fresh.kind === 'initialization' && !state.tracked[fresh.id])
        settleMeters(state.init, fresh.meterSerials);
    }
  }
  return { state, effects };
}

function onOutcome(state: WorkManagerState, outcome: JobOutcome, nowMs: number): WorkManagerResult {
  const tracked = state.tracked[outcome.jobId];
  if (!tracked || tracked.retryAtMs !== undefined) return { state, effects: [] };
  if (tracked.job.kind === 'initialization') return onInitOutcome(state, tracked, outcome, nowMs);
  const schedule = state.concentrators[tracked.job.concentratorId];
  if (outcome.status === 'succeeded') {
    untrack(state, outcome.jobId);
    if (schedule && tracked.job.kind === 'loadProfile' && outcome.oldestCollectedMs !== undefined)
      schedule.oldestCollectedMs = outcome.oldestCollectedMs;
    return { state, effects: [] };
  }
  // Load profile failures need no retry job: the next slot resumes from the last collected
  // instant, and a lasting gap triggers an N2Pload recovery job.
  if (tracked.job.kind === 'loadProfile' || tracked.retry >= state.config.maxCollectionRetries) {
    untrack(state, outcome.jobId);
    return { state, effects: [] };
  }
  tracked.retryAtMs = nowMs + state.config.collectionRetryDelayMs;
  noteRetry(state, tracked.retryAtMs);
  return { state, effects: [] };
}

/**
 * An initialization job's outcome: its initialized meters are done; the failed ones (all of a
 * failed job, the named ones of a partial success) are retried as one new job after the retry
 * delay, so a meter that was initialized is never asked again.
 */
function onInitOutcome(
  state: WorkManagerState,
  tracked: TrackedJob,
  outcome: JobOutcome,
  nowMs: number,
): WorkManagerResult {
  const meters = tracked.job.meterSerials;
  const named = new Set(outcome.status === 'failed' ? meters : (outcome.failedMeters ?? []));
  const failed = meters.filter((m) => named.has(m));
  settleMeters(
    state.init,
    meters.filter((m) => !named.has(m)),
  );
  if (failed.length === 0 || tracked.retry >= state.config.maxCollectionRetries) {
    settleMeters(state.init, failed);
    untrack(state, outcome.jobId);
    return { state, effects: [] };
  }
  tracked.job = { ...tracked.job, meterSerials: failed };
  tracked.retryAtMs = nowMs + state.config.collectionRetryDelayMs;
  noteRetry(state, tracked.retryAtMs);
  return { state, effects: [] };
}

/** One initialization job for these meters of the concentrator (at most maxMetersPerInitJob). */
function submitInit(
  state: WorkManagerState,
  concentratorId: string,
  meters: string[],
  nowMs: number,
): WorkManagerEffect[] {
  const job = makeJob(state.config, {
    id: nextInitJobId(state.init, concentratorId),
    kind: 'initialization',
    concentratorId,
    meterSerials: meters,
    params: { kind: 'initialization' },
    nowMs,
  });
  const effects = track(state, job);
  // Not tracked (too much outstanding): no retry will come, so commissioning again may.
  if (!state.tracked[job.id]) settleMeters(state.init, meters);
  return effects;
}

function track(state: WorkManagerState, job: Job, retry = 0): WorkManagerEffect[] {
  // Bounded memory: if too much is outstanding, the job is still submitted but would not be
  // retried by the work manager (the jobs manager still retries its attempts).
  if (state.tracked[job.id]) state.tracked[job.id] = { job, retry };
  else if (state.trackedCount < state.config.maxTrackedJobs) {
    state.tracked[job.id] = { job, retry };
    state.trackedCount += 1;
  }
  return [{ type: 'submitJob', job }];
}

type JobDraft = Pick<Job, 'id' | 'kind' | 'concentratorId' | 'meterSerials' | 'params'> & { nowMs: number };

function makeJob(config: WorkManagerConfig, draft: JobDraft): Job {
  return {
    id: draft.id,
    kind: draft.kind,
    priority: 'normal',
    concentratorId: draft.concentratorId,
    meterSerials: draft.meterSerials,
    params: draft.params,
    submittedAtMs: draft.nowMs,
    deadlineMs: draft.nowMs + config.jobDeadlineMs[draft.kind],
    maxAttempts: config.maxAttempts,
  };
}

function slotMs(config: WorkManagerConfig): number {
  return config.loadProfileEveryMinutes * 60_000;
}

function slotStart(nowMs: number, config: WorkManagerConfig): number {
  return Math.floor(nowMs / slotMs(config)) * slotMs(config);
}
