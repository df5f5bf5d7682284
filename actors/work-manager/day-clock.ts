import { invalidInput } from '../domain/errors.js';
import {
  applyWorkManagerCommand,
  type ConcentratorSchedule,
  newWorkManager,
  nextDueMs,
  type WorkManagerCommand,
  type WorkManagerConfig,
  type WorkManagerResult,
  type WorkManagerState,
} from './schedule.js';

/**
 * The work manager's day clock: which simulated (or real) instant "now" is, as replicated
 * state of the work manager itself, so a durable reminder on whichever node is primary can
 * run the schedule without the driver. Simulated now = simAtMs + (wallMs - wallAtMs) * rate;
 * production uses rate 1 and simAtMs = wallAtMs (the real clock). Pure: the wall instant comes
 * in with the command (the reminder's firing time), never from a clock read here.
 *
 * After each reminder tick the next one is computed from the state alone (`nextTickMs`), so
 * any replica replaying the log, and any call re-arming the reminder, computes the same one.
 * Ticks are coalesced: at most one per `minIntervalMs` of wall time, each on the schedule's
 * own due instants (load profile slots, the 5-minute closure checks, retries), so a 1440x
 * day fires a few ticks per second, not one per due slot.
 */

export type DayClock = {
  /** The simulated instant at `wallAtMs`. */
  simAtMs: number;
  wallAtMs: number;
  /** Simulated ms per wall ms (1 in production, 1440 for a day in a minute). */
  rate: number;
  /** Wall ms between two reminder ticks at least (the coalescing bound). */
  minIntervalMs: number;
  /** No tick after the first one at or past this simulated instant (a demo day's end). */
  untilSimMs?: number;
};

export const defaultMinTickIntervalMs = 250;
/** Bounds on a day clock's fields: a rate or interval outside these is a mistake, not a schedule. */
export const dayClockBounds = { minIntervalMs: 20, maxIntervalMs: 3_600_000, maxRate: 1_000_000 };

export type ClockedWorkManagerState = WorkManagerState & {
  dayClock?: DayClock;
  /** The simulated instant of the last tick (reminder or driver). */
  lastTickMs?: number;
  /** The simulated instant the next reminder tick is due at (absent: no reminder). */
  nextTickMs?: number;
};

export type ClockedWorkManagerCommand =
  | WorkManagerCommand
  /** Start (or re-anchor) the day clock; the first reminder tick is due at once. */
  | { type: 'setClock'; clock: DayClock }
  /** Stop the reminders (the driver's ticks drive the schedule again). */
  | { type: 'clearClock' }
  /** The reminder's tick: the schedule at the command's instant, then the next tick from `wallMs`. */
  | { type: 'reminderTick'; wallMs: number };

export function simAt(clock: DayClock, wallMs: number): number {
  return clock.simAtMs + Math.floor((wallMs - clock.wallAtMs) * clock.rate);
}

/** The first wall instant at which simulated time has reached `simMs`. */
export function wallAt(clock: DayClock, simMs: number): number {
  return clock.wallAtMs + Math.ceil((simMs - clock.simAtMs) / clock.rate);
}

export function newClockedWorkManager(config: Partial<WorkManagerConfig> = {}): ClockedWorkManagerState {
  return newWorkManager(config);
}

/** Validates a day clock from a command (shared by the work and jobs managers). */
export function validClock(value: unknown): DayClock {
  const c = value as Partial<DayClock> | null;
  if (!c || typeof c !== 'object')
    throw invalidInput('setClock takes a clock {simAtMs, wallAtMs, rate, minIntervalMs}');
  const finite = (v: unknown, field: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw invalidInput(`day clock ${field} must be a finite number`);
    return v;
  };
  const simAtMs = finite(c.simAtMs, 'simAtMs');
  const wallAtMs = finite(c.wallAtMs, 'wallAtMs');
  const rate = finite(c.rate, 'rate');
  if (!(rate > 0 && rate <= dayClockBounds.maxRate))
    throw invalidInput(`day clock rate must be in (0, ${dayClockBounds.maxRate}]`);
  const minIntervalMs = finite(c.minIntervalMs, 'minIntervalMs');
  if (minIntervalMs < dayClockBounds.minIntervalMs || minIntervalMs > dayClockBounds.maxIntervalMs)
    throw invalidInput(
      `day clock minIntervalMs must be ${dayClockBounds.minIntervalMs}..${dayClockBounds.maxIntervalMs}`,
    );
  const clock: DayClock = { simAtMs, wallAtMs, rate, minIntervalMs };
  if (c.untilSimMs !== undefined) {
    const untilSimMs = finite(c.untilSimMs, 'untilSimMs');
    if (untilSimMs < simAtMs) throw invalidInput('day clock untilSimMs must not be before simAtMs');
    clock.untilSimMs = untilSimMs;
  }
  return clock;
}

/**
 * The simulated instant of the tick after one at `tickMs`, fired when simulated time was
 * already `simNowMs` (later than `tickMs` if the reminder fired late, e.g. after a failover:
 * the schedule then catches up in one tick instead of replaying every missed slot).
 */
export function nextTickAfter(
  state: ClockedWorkManagerState,
  clock: DayClock,
  tickMs: number,
  simNowMs: number,
): number | undefined {
  if (clock.untilSimMs !== undefined && tickMs >= clock.untilSimMs) return undefined;
  const earliest = Math.max(tickMs + 1, tickMs + Math.ceil(clock.minIntervalMs * clock.rate), simNowMs);
  // The first due instant at or after `earliest`: ticks stay on the schedule's own instants.
  let next = Math.max(earliest, nextDueMs(state, earliest - 1));
  if (clock.untilSimMs !== undefined) next = Math.min(next, clock.untilSimMs);
  return next;
}

export function applyClockedCommand(
  state: ClockedWorkManagerState,
  command: ClockedWorkManagerCommand,
  nowMs: number,
): WorkManagerResult & { state: ClockedWorkManagerState } {
  switch (command.type) {
    case 'setClock': {
      const clock = validClock(command.clock);
      state.dayClock = clock;
      const last = state.lastTickMs;
      if (last === undefined || last < clock.simAtMs) state.nextTickMs = clock.simAtMs;
      else {
        const next = nextTickAfter(state, clock, last, clock.simAtMs);
        if (next === undefined) delete state.nextTickMs;
        else state.nextTickMs = next;
      }
      return { state, effects: [] };
    }
    case 'clearClock':
      delete state.dayClock;
      delete state.nextTickMs;
      return { state, effects: [] };
    case 'reminderTick': {
      const clock = state.dayClock;
      if (!clock) throw invalidInput('no day clock is set: the reminder tick has nothing to run on');
      if (typeof command.wallMs !== 'number' || !Number.isFinite(command.wallMs))
        throw invalidInput('reminderTick takes a finite wallMs');
      const release = holdRecoveriesInFlight(state);
      const result = applyWorkManagerCommand(state, { type: 'tick' }, nowMs);
      release();
      state.lastTickMs = nowMs;
      const next = nextTickAfter(state, clock, nowMs, simAt(clock, command.wallMs));
      if (next === undefined) delete state.nextTickMs;
      else state.nextTickMs = next;
      return { state, effects: result.effects };
    }
    case 'tick': {
      const result = applyWorkManagerCommand(state, command, nowMs);
      if (state.lastTickMs === undefined || nowMs > state.lastTickMs) state.lastTickMs = nowMs;
      return { state, effects: result.effects };
    }
    default:
      return { state, effects: applyWorkManagerCommand(state, command, nowMs).effects };
  }
}

/**
 * On its own clock the schedule runs ahead of a driver that is behind (or gone): a
 * concentrator whose last load profile job has no outcome yet has its data in flight, not a
 * gap, so its N2Pload recovery waits until that job has finished (as it would have, had the
 * driver kept up). The schedule's recovery rule asks for a recovery only from an oldest
 * collected instant newer than the last recovery's: holding that mark at the oldest
 * collected instant for the tick holds the recovery; the returned function restores it.
 */
function holdRecoveriesInFlight(state: ClockedWorkManagerState): () => void {
  const held: { schedule: ConcentratorSchedule; previous: number | undefined }[] = [];
  for (const [concentratorId, schedule] of Object.entries(state.concentrators)) {
    const oldest = schedule.oldestCollectedMs;
    if (oldest === undefined) continue;
    if (!state.tracked[`lp:${concentratorId}:${schedule.lastLoadProfileSlotMs}`]) continue;
    held.push({ schedule, previous: schedule.lastRecoveryFromMs });
    schedule.lastRecoveryFromMs = oldest;
  }
  return () => {
    for (const { schedule, previous } of held) {
      if (previous === undefined) delete schedule.lastRecoveryFromMs;
      else schedule.lastRecoveryFromMs = previous;
    }
  };
}

/** The simulated instant a work-manager outbox entry was decided at (its jobs' submission time). */
export function entryInstantMs(effects: readonly unknown[]): number | undefined {
  let at: number | undefined;
  for (const e of effects) {
    const job = (e as { job?: { submittedAtMs?: unknown } }).job;
    const t = job?.submittedAtMs;
    if (typeof t === 'number' && (at === undefined || t > at)) at = t;
  }
  return at;
}
