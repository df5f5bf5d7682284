import type { ActorBehaviour } from '../../cluster/actors/actor-definition.js';
import { MeterfabricError } from '../../core/errors.js';

/**
 * Hosts a pure head-end state machine as an event-sourced cluster actor. The persisted event
 * is the command itself with the instant it was decided at; `handle` runs it on a copy of the
 * state to validate it and compute its effects (the reply), `apply` runs it on the state, on
 * the primary after the quorum commit and again on any new primary replaying the log. Since
 * the machines are deterministic given (state, command, nowMs), replay rebuilds the same state.
 * Effects travel back in the reply: a driver delivers them to the next service through
 * ActorProxy, with idempotency keys, so a retried call is answered from the dedup table.
 */

export type CommandEvent<C> = { command: C; nowMs: number };

/**
 * The call argument: the command, and optionally the instant to decide it at. A head-end
 * driving simulated time passes its clock's instant (the machines take an injected clock);
 * otherwise the node's clock decides.
 */
export type CommandCall<C> = { command: C; atMs?: number };

export type CommandMachine<S, C, E> = {
  initialState(key: string): S;
  apply(state: S, command: C, nowMs: number): { state: S; effects: E[] };
  /** Commands that only read: answered without persisting. */
  isRead?(command: C): boolean;
  read?(state: S, command: C): unknown;
};

/**
 * Events whose change `handle` already made in place (hosted machines only): `apply` on the
 * primary then has nothing left to do. Replay reads events back from storage, so they are
 * never in this set and are applied normally.
 */
const appliedInPlace = new WeakSet<object>();

/**
 * `inPlace`: decide on the state itself instead of a copy. Only for machines that validate
 * everything before they change anything (actors/hosting/outbox.ts: a refused command
 * throws before any change): no copy of a large state per call, and no second apply. If the
 * persist then fails, the actor host stops the actor and it recovers from the log.
 */
export function commandActor<S, C, E>(
  machine: CommandMachine<S, C, E>,
  options: { inPlace?: boolean } = {},
): ActorBehaviour<S, CommandEvent<C>> {
  return {
    initialState: (key) => machine.initialState(key),
    handle(state, method, arg, ctx) {
      if (method !== 'command')
        throw new MeterfabricError(
          'MF_UNKNOWN_METHOD',
          `head-end actors take method "command", not "${method}"`,
        );
      const call = arg as CommandCall<C> | null;
      if (!call || typeof call !== 'object' || !('command' in call))
        throw new MeterfabricError('MF_BAD_REQUEST', 'head-end actor calls take {command, atMs?}');
      const { command } = call;
      const nowMs = typeof call.atMs === 'number' && Number.isFinite(call.atMs) ? call.atMs : ctx.nowMs;
      if (machine.isRead?.(command)) return { result: machine.read?.(state, command) };
      if (options.inPlace) {
        const { effects } = machine.apply(state, command, nowMs);
        const event = { command, nowMs };
        appliedInPlace.add(event);
        return { event, result: { effects } };
      }
      // Decide on a copy: a refused command throws here and nothing is persisted.
      const { effects } = machine.apply(structuredClone(state), command, nowMs);
      return { event: { command, nowMs }, result: { effects } };
    },
    apply: (state, event) => {
      if (appliedInPlace.delete(event)) return state;
      return machine.apply(state, event.command, event.nowMs).state;
    },
  };
}
