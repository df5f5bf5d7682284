import type { ActorBehaviour, Decision, ReminderRequest } from '../../cluster/actors/actor-definition.js';
import { MeterfabricError } from '../../core/errors.js';
import { type DayClock, wallAt } from '../work-manager/day-clock.js';
import type { CommandEvent } from './command-actor.js';
import type { HostedCommand, HostedState } from './outbox.js';

/**
 * A hosted head-end actor whose time-driven work runs on a durable reminder (the work
 * manager's schedule, the jobs manager's backoffs and timeouts). The hosted machine keeps a
 * day clock and the simulated instant its next tick is due at (`nextTickMs`) in its replicated
 * state; this behaviour adds the reminder:
 *
 * - method `reminder` (`{atMs}`, the instant it was registered for) runs the machine's tick as
 *   a delivery from source `<name>` with seq `atMs`, so an older reminder arriving after a
 *   newer one is dropped by the outbox's high-water mark. The runtime fires it with the
 *   idempotency key `reminder:<key>:<name>@<wall due>`, so a fire repeated after a failover is
 *   answered from the dedup table: it runs once. A reminder that is no longer the state's next
 *   one (the clock was re-set or cleared) does nothing.
 * - every call, reads included, returns the reminder for the state's next tick: computed from
 *   the replicated state alone, so it is the same reminder each time (the scheduler keeps the
 *   one it has), and any call re-arms a chain that lost its reminder.
 */

export type ReminderClockState = { dayClock?: DayClock; nextTickMs?: number };

type HostedCall = CommandEvent<HostedCommand<unknown>>;

/** The reminder for the state's next tick, if its day clock has one. */
export function reminderFor(state: ReminderClockState, name: string): ReminderRequest | undefined {
  const clock = state.dayClock;
  const atMs = state.nextTickMs;
  if (!clock || atMs === undefined) return undefined;
  return { name, dueAtMs: wallAt(clock, atMs), method: 'reminder', arg: { atMs } };
}

export function reminderDriven<S extends ReminderClockState, E>(options: {
  /** The hosted machine as an actor, deciding in place (commandActor with inPlace). */
  base: ActorBehaviour<HostedState<S, E>, HostedCall>;
  /** The reminder's name and the source its ticks are delivered from. */
  name: string;
  /** For the error a malformed reminder call gets. */
  service: string;
  /** The machine's tick command for a reminder due at `atMs` firing at wall time `wallMs`, and the instant to decide it at. */
  tick(state: S, atMs: number, wallMs: number): { command: unknown; atMs: number };
}): ActorBehaviour<HostedState<S, E>, HostedCall> {
  const { base, name, service } = options;
  return {
    initialState: (key) => base.initialState(key),
    apply: (state, event) => base.apply(state, event),
    // Records store the outbox entry's id (outbox.ts storeEntries): a retried call is
    // answered from the outbox by the hosted machine's replyFrom.
    replyFrom: (state, stored) => (base.replyFrom ? base.replyFrom(state, stored) : stored),
    // Snapshots in the base's compact form (command-actor.ts).
    ...(base.snapshotOf && base.stateFromSnapshot
      ? { snapshotOf: base.snapshotOf, stateFromSnapshot: base.stateFromSnapshot }
      : {}),
    handle(state, method, arg, ctx): Decision<HostedCall> {
      let decision: Decision<HostedCall>;
      if (method === 'reminder') {
        const atMs = (arg as { atMs?: unknown } | null)?.atMs;
        if (typeof atMs !== 'number' || !Number.isFinite(atMs))
          throw new MeterfabricError('MF_BAD_REQUEST', `a ${service} reminder carries {atMs}`);
        if (state.inner.dayClock === undefined || state.inner.nextTickMs !== atMs)
          decision = { result: { effects: [] } };
        else {
          const tick = options.tick(state.inner, atMs, ctx.nowMs);
          decision = base.handle(
            state,
            'command',
            {
              command: { type: 'deliver', deliveries: [{ from: name, seq: atMs, commands: [tick.command] }] },
              atMs: tick.atMs,
            },
            ctx,
          );
        }
      } else decision = base.handle(state, method, arg, ctx);
      // The hosted machine decides in place: `state` is already the state after this call.
      const reminder = reminderFor(state.inner, name);
      return reminder ? { ...decision, reminders: [reminder] } : decision;
    },
  };
}
