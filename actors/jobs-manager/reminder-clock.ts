import { invalidInput } from '../domain/errors.js';
import { jobKinds } from '../domain/jobs.js';
import { type DayClock, simAt, validClock } from '../work-manager/day-clock.js';
import {
  applyJobsManagerCommand,
  type JobsManagerCommand,
  type JobsManagerConfig,
  type JobsManagerResult,
  type JobsManagerState,
  newJobsManager,
} from './state.js';

/**
 * The jobs manager on a durable reminder (wall-clock deployments). Its time-driven work
 * (retries leaving their backoff, attempts timing out, jobs passing their deadline) needs a
 * tick at the right instant; with the simulated day the driver asks for it at each step it
 * follows (the jobs manager's time must be the driver's there, or a lagging driver's jobs
 * time out), but in production nothing should depend on a driver being alive. So the same
 * day clock as the work manager's (actors/work-manager/day-clock.ts) is set on the jobs
 * manager, and at rate 1 (or with `reminders: true`) the state carries `nextTickMs`: the
 * instant its next tick is due, which actors/hosting/jobs-manager-actor.ts registers as a
 * durable reminder. Pure: every instant comes in with the command.
 *
 * `nextTickMs` is recomputed after every command from the indexes the state keeps anyway (the
 * head of the backoff list, the earliest attempt timeout, the earliest queued deadline),
 * never by scanning the jobs; parked jobs wait only behind an attempt in flight, so their
 * release is that attempt's result or timeout. Those indexes are lower bounds (an attempt
 * that finished early leaves its timeout in place until the next tick passes it), so a
 * reminder may tick once with nothing to do: the tick then tightens the index. Ticks are
 * coalesced: at least `minIntervalMs` of wall time apart.
 */

export type ClockedJobsManagerState = JobsManagerState & {
  dayClock?: DayClock;
  /** Whether reminders run the ticks (rate 1 by default; the driver's ticks do otherwise). */
  onReminders?: boolean;
  /** The instant of the last reminder tick (the coalescing bound's origin). */
  lastReminderTickMs?: number;
  /** The instant the next reminder tick is due at (absent: nothing due, or no reminders). */
  nextTickMs?: number;
};

export type ClockedJobsManagerCommand =
  | JobsManagerCommand
  /** reminders: force reminders on or off (default: on exactly when the clock runs at rate 1). */
  /** timings: a deployment's own backoff and attempt timeout (ms), set with its clock. */
  | { type: 'setClock'; clock: DayClock; reminders?: boolean; timings?: Partial<JobsTimings> }
  | { type: 'clearClock' }
  /** The reminder registered for `atMs`; a stale or repeated one does nothing. */
  | { type: 'reminderTick'; atMs: number };

export type JobsTimings = Pick<JobsManagerConfig, 'backoffBaseMs' | 'backoffMaxMs' | 'attemptTimeoutMs'>;
const timingFields = ['backoffBaseMs', 'backoffMaxMs', 'attemptTimeoutMs'] as const;
/** A timing outside 1 s..1 day is a mistake, not a policy. */
export const timingBoundsMs = { min: 1_000, max: 86_400_000 };

function validTimings(value: unknown): Partial<JobsTimings> {
  if (value === undefined) return {};
  if (!value || typeof value !== 'object') throw invalidInput('setClock timings must be an object');
  const out: Partial<JobsTimings> = {};
  for (const [field, v] of Object.entries(value)) {
    if (!(timingFields as readonly string[]).includes(field))
      throw invalidInput(`setClock timings: unknown field ${field} (known: ${timingFields.join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < timingBoundsMs.min || v > timingBoundsMs.max)
      throw invalidInput(`setClock timings.${field} must be ${timingBoundsMs.min}..${timingBoundsMs.max} ms`);
    out[field as keyof JobsTimings] = v;
  }
  return out;
}

export function newClockedJobsManager(config: Partial<JobsManagerConfig> = {}): ClockedJobsManagerState {
  return newJobsManager(config);
}

/** The earliest instant a tick has work to do, from the indexes (absent: none). */
export function nextJobsDueMs(state: JobsManagerState): number | undefined {
  let due: number | undefined;
  const consider = (t: number | undefined) => {
    if (t !== undefined && (due === undefined || t < due)) due = t;
  };
  const head = state.backoff[0];
  consider(head === undefined ? undefined : state.entries[head]?.notBeforeMs);
  // The two instants below are lower bounds a tick tightens only once it passes them; the
  // per-kind counts (a handful of numbers) tell when nothing they bound is left at all, so a
  // finished job leaves no reminder behind. Parked jobs wait behind an attempt in flight.
  if (jobKinds.some((k) => state.inFlightByKind[k] > 0)) consider(state.nextAttemptTimeoutMs);
  if (jobKinds.some((k) => state.queuedByKind[k] > 0)) consider(state.nextQueuedDeadlineMs);
  return due;
}

/** The next reminder tick: the next due instant, at least minIntervalMs (wall) after the last one. */
export function nextJobsTickMs(state: ClockedJobsManagerState): number | undefined {
  const clock = state.dayClock;
  if (!clock || !state.onReminders) return undefined;
  const due = nextJobsDueMs(state);
  if (due === undefined) return undefined;
  const last = state.lastReminderTickMs;
  const earliest = last === undefined ? due : last + Math.max(1, Math.ceil(clock.minIntervalMs * clock.rate));
  return Math.max(due, earliest);
}

function rearm(state: ClockedJobsManagerState): void {
  const next = nextJobsTickMs(state);
  if (next === undefined) delete state.nextTickMs;
  else state.nextTickMs = next;
}

/** The instant a reminder registered for `atMs` ticks at when it fires at wall `wallMs` (late: catch up). */
export function reminderTickAt(state: ClockedJobsManagerState, atMs: number, wallMs: number): number {
  const clock = state.dayClock;
  return clock ? Math.max(atMs, simAt(clock, wallMs)) : atMs;
}

export function applyClockedJobsCommand(
  state: ClockedJobsManagerState,
  command: ClockedJobsManagerCommand,
  nowMs: number,
): JobsManagerResult & { state: ClockedJobsManagerState } {
  switch (command.type) {
    case 'setClock': {
      const clock = validClock(command.clock);
      if (command.reminders !== undefined && typeof command.reminders !== 'boolean')
        throw invalidInput('setClock reminders must be true or false');
      const timings = validTimings(command.timings);
      state.config = { ...state.config, ...timings };
      state.dayClock = clock;
      state.onReminders = command.reminders ?? clock.rate === 1;
      rearm(state);
      return { state, effects: [] };
    }
    case 'clearClock':
      delete state.dayClock;
      delete state.onReminders;
      delete state.nextTickMs;
      return { state, effects: [] };
    case 'reminderTick': {
      if (typeof command.atMs !== 'number' || !Number.isFinite(command.atMs))
        throw invalidInput('reminderTick takes a finite atMs');
      // Not the state's next tick (a repeated fire, or the clock was re-set): nothing to do.
      if (!state.dayClock || !state.onReminders || state.nextTickMs !== command.atMs)
        return { state, effects: [] };
      const result = applyJobsManagerCommand(state, { type: 'tick' }, nowMs);
      state.lastReminderTickMs = nowMs;
      rearm(state);
      return { state, effects: result.effects };
    }
    default: {
      const result = applyJobsManagerCommand(state, command, nowMs);
      if (state.dayClock) rearm(state);
      return { state, effects: result.effects };
    }
  }
}
