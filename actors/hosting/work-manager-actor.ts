import type { ActorBehaviour, Decision, ReminderRequest } from '../../cluster/actors/actor-definition.js';
import { MeterfabricError } from '../../core/errors.js';
import { type ClockedWorkManagerState, wallAt } from '../work-manager/day-clock.js';
import type { WorkManagerEffect } from '../work-manager/schedule.js';
import { type CommandEvent, commandActor } from './command-actor.js';
import type { HostedCommand, HostedState } from './outbox.js';
import { hostedMachines } from './services.js';

/**
 * The work manager as a cluster actor driven by a durable reminder. Its hosted machine
 * (services.ts: the schedule with its day clock, behind the transactional outbox) decides as
 * every head-end actor does; this behaviour adds the reminder:
 *
 * - method `reminder` (`{atMs}`, the simulated instant it was registered for) runs the
 *   schedule's tick at that instant, as a delivery from source `day-clock` with seq `atMs`
 *   (so an older reminder arriving after a newer one is dropped). The runtime fires it with
 *   the idempotency key `reminder:<key>:day-clock@<wall due>`, so a fire repeated after a
 *   failover is answered from the dedup table: it runs once. A reminder that is no longer the
 *   state's next one (the clock was re-set or cleared) does nothing.
 * - every call, reads included, returns the reminder for the state's next tick: computed from
 *   the replicated state alone, so it is the same reminder each time (the scheduler keeps the
 *   one it has), and a chain broken by a crash between a tick's commit and the next
 *   reminder's registration is re-armed by the next call (the driver polls the outbox).
 *
 * The jobs go to the outbox as before; the driver delivers them (HeadendDriver.follow).
 */

type WorkManagerHosted = HostedState<ClockedWorkManagerState, WorkManagerEffect>;
type WorkManagerCall = CommandEvent<HostedCommand<unknown>>;

const base = commandActor(hostedMachines['work-manager'], { inPlace: true }) as unknown as ActorBehaviour<
  WorkManagerHosted,
  WorkManagerCall
>;

export const reminderName = 'day-clock';

/** The reminder for the state's next tick, if its day clock has one. */
export function nextReminder(state: ClockedWorkManagerState): ReminderRequest | undefined {
  const clock = state.dayClock;
  const atMs = state.nextTickMs;
  if (!clock || atMs === undefined) return undefined;
  return { name: reminderName, dueAtMs: wallAt(clock, atMs), method: 'reminder', arg: { atMs } };
}

export const hostedWorkManagerActor: ActorBehaviour<WorkManagerHosted, WorkManagerCall> = {
  initialState: (key) => base.initialState(key),
  apply: (state, event) => base.apply(state, event),
  // Its records store the outbox entry's id (outbox.ts storeEntries): a retried call is
  // answered from the outbox by the hosted machine's replyFrom.
  replyFrom: (state, stored) => (base.replyFrom ? base.replyFrom(state, stored) : stored),
  handle(state, method, arg, ctx): Decision<WorkManagerCall> {
    let decision: Decision<WorkManagerCall>;
    if (method === 'reminder') {
      const atMs = (arg as { atMs?: unknown } | null)?.atMs;
      if (typeof atMs !== 'number' || !Number.isFinite(atMs))
        throw new MeterfabricError('MF_BAD_REQUEST', 'a work-manager reminder carries {atMs}');
      if (state.inner.dayClock === undefined || state.inner.nextTickMs !== atMs)
        decision = { result: { effects: [] } };
      else
        decision = base.handle(
          state,
          'command',
          {
            command: {
              type: 'deliver',
              deliveries: [
                { from: reminderName, seq: atMs, commands: [{ type: 'reminderTick', wallMs: ctx.nowMs }] },
              ],
            },
            atMs,
          },
          ctx,
        );
    } else decision = base.handle(state, method, arg, ctx);
    // The hosted machine decides in place: `state` is already the state after this call.
    const reminder = nextReminder(state.inner);
    return reminder ? { ...decision, reminders: [reminder] } : decision;
  },
};
