import type { ActorBehaviour, Decision, ReminderRequest } from '../../cluster/actors/actor-definition.js';
import { MeterfabricError } from '../../core/errors.js';
import { type ClockedJobsManagerState, reminderTickAt } from '../jobs-manager/reminder-clock.js';
import type { JobsManagerEffect } from '../jobs-manager/state.js';
import { wallAt } from '../work-manager/day-clock.js';
import { type CommandEvent, commandActor } from './command-actor.js';
import type { HostedCommand, HostedState } from './outbox.js';
import { hostedMachines } from './services.js';

/**
 * The jobs manager as a cluster actor with a durable reminder for its time-driven work
 * (retry backoffs, attempt timeouts, deadlines), used when its day clock runs at rate 1
 * (actors/jobs-manager/reminder-clock.ts decides when). The same pattern as the work
 * manager's (work-manager-actor.ts):
 *
 * - method `reminder` (`{atMs}`) runs the tick as a delivery from source `jobs-clock` with seq
 *   `atMs`, at `atMs` or, fired late (a failover), at the clock's instant of the firing. The
 *   runtime fires it with an idempotency key naming its due time, so a repeated fire is
 *   answered from the dedup table; the seq's high-water mark and the state's `nextTickMs`
 *   drop it too if it gets that far.
 * - every call, reads included, returns the reminder of the state's next tick (computed from
 *   the state alone), so any call re-arms a chain broken by a crash, and a submit or result
 *   that brings a due instant forward moves the reminder.
 *
 * Without a clock at rate 1 (the simulated day) there is no reminder: the driver ticks.
 */

type JobsManagerHosted = HostedState<ClockedJobsManagerState, JobsManagerEffect>;
type JobsManagerCall = CommandEvent<HostedCommand<unknown>>;

const base = commandActor(hostedMachines['jobs-manager'], { inPlace: true }) as unknown as ActorBehaviour<
  JobsManagerHosted,
  JobsManagerCall
>;

export const jobsReminderName = 'jobs-clock';

export function nextJobsReminder(state: ClockedJobsManagerState): ReminderRequest | undefined {
  const clock = state.dayClock;
  const atMs = state.nextTickMs;
  if (!clock || atMs === undefined) return undefined;
  return { name: jobsReminderName, dueAtMs: wallAt(clock, atMs), method: 'reminder', arg: { atMs } };
}

export const clockedJobsManagerActor: ActorBehaviour<JobsManagerHosted, JobsManagerCall> = {
  initialState: (key) => base.initialState(key),
  apply: (state, event) => base.apply(state, event),
  replyFrom: (state, stored) => (base.replyFrom ? base.replyFrom(state, stored) : stored),
  handle(state, method, arg, ctx): Decision<JobsManagerCall> {
    let decision: Decision<JobsManagerCall>;
    if (method === 'reminder') {
      const atMs = (arg as { atMs?: unknown } | null)?.atMs;
      if (typeof atMs !== 'number' || !Number.isFinite(atMs))
        throw new MeterfabricError('MF_BAD_REQUEST', 'a jobs-manager reminder carries {atMs}');
      if (state.inner.nextTickMs !== atMs) decision = { result: { effects: [] } };
      else
        decision = base.handle(
          state,
          'command',
          {
            command: {
              type: 'deliver',
              deliveries: [{ from: jobsReminderName, seq: atMs, commands: [{ type: 'reminderTick', atMs }] }],
            },
            atMs: reminderTickAt(state.inner, atMs, ctx.nowMs),
          },
          ctx,
        );
    } else decision = base.handle(state, method, arg, ctx);
    // The hosted machine decides in place: `state` is already the state after this call.
    const reminder = nextJobsReminder(state.inner);
    return reminder ? { ...decision, reminders: [reminder] } : decision;
  },
};
