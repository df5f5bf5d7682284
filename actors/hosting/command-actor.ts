import type { ActorBehaviour } from '../../cluster/actors/actor-definition.js';
import { MeterfabricError } from '../../core/errors.js';
import { packValue, unpackValue } from './compact-records.js';

/**
 * Hosts a pure head-end state machine as an event-sourced cluster actor. The persisted event
 * is the command itself with the instant it was decided at; `handle` runs it on a copy of the
 * state to validate it and compute its effects (the reply), `apply` runs it on the state, on
 * the primary after the quorum commit and again on any new primary replaying the log. Since
 * the machines are deterministic given (state, command, nowMs), replay rebuilds the same state.
 * Effects travel back in the reply: a driver delivers them to the next service through
 * ActorProxy, with idempotency keys, so a retried call is answered from the dedup table
 * (which, for machines with `storeEffects`, holds a reference that `replyFrom` resolves
 * against the current state: the effects are not stored twice).
 */

/**
 * The persisted event. `c` is the command in its compact form (actors/hosting/compact-records.ts),
 * persisted as it arrived, so replication and replay carry the compact bytes; `command` is the
 * plain form (calls that send it, and every record written before the compact form).
 */
export type CommandEvent<C> = { command: C; nowMs: number } | { c: unknown; nowMs: number };

/**
 * The call argument: the command, and optionally the instant to decide it at. A head-end
 * driving simulated time passes its clock's instant (the machines take an injected clock);
 * otherwise the node's clock decides. A call that sends the command packed (`c`, from
 * `packValue`) gets its reply packed too (`{c: packValue(reply)}`).
 */
export type CommandCall<C> = { command: C; atMs?: number } | { c: unknown; atMs?: number };

/** The reply to a packed call: the plain reply packed. */
export type PackedReply = { c: unknown };

/** What a packed call's change stores for a retry: the machine's own stored result, marked. */
type PackedStored = { c: unknown };

function isPacked(x: unknown): x is { c: unknown } {
  return typeof x === 'object' && x !== null && 'c' in x && !('command' in x);
}

/** The command of a call or event, in either form. */
export function commandOf<C>(x: CommandCall<C> | CommandEvent<C>): C {
  return isPacked(x) ? unpackValue<C>(x.c) : (x as { command: C }).command;
}

export type CommandMachine<S, C, E> = {
  initialState(key: string): S;
  apply(state: S, command: C, nowMs: number): { state: S; effects: E[] };
  /** Commands that only read: answered without persisting. */
  isRead?(command: C): boolean;
  read?(state: S, command: C): unknown;
  /**
   * What the actor persists and remembers for a change instead of its reply `{ effects }`
   * (a reference to what the state holds already, e.g. outbox entry ids); the reply still
   * carries the effects. Requires `replyFrom`.
   */
  storeEffects?(effects: E[]): unknown;
  /** The reply to a retried change, from what `storeEffects` returned and the current state. */
  replyFrom?(state: S, stored: unknown): unknown;
};

/** A stored result that is the reply itself (every record written before references). */
function isFullReply(stored: unknown): boolean {
  return (
    typeof stored === 'object' && stored !== null && Array.isArray((stored as { effects?: unknown }).effects)
  );
}

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
  const { storeEffects, replyFrom } = machine;
  const stored = (effects: E[], packed: boolean) => {
    if (!storeEffects) return {};
    const s = storeEffects(effects);
    return { storedResult: packed ? ({ c: s } satisfies PackedStored) : s };
  };
  const reply = (result: unknown, packed: boolean) =>
    packed ? ({ c: packValue(result) } satisfies PackedReply) : result;
  return {
    ...(replyFrom
      ? {
          // Records written before the machine stored references hold the reply itself; a
          // packed call's stored reference is marked, so its retry is answered packed.
          replyFrom: (state: S, result: unknown) => {
            if (isFullReply(result)) return result;
            if (isPacked(result)) return reply(replyFrom(state, result.c), true);
            return replyFrom(state, result);
          },
        }
      : {}),
    initialState: (key) => machine.initialState(key),
    // Snapshots hold the state packed (issue 7): outbox entries carry readings, and a plain
    // state of a few unacknowledged worker or stream entries passed the replicator's 4 MiB
    // value limit, so the snapshot was refused and replay grew. JSON-equal on the way back.
    snapshotOf: (state) => packValue(state),
    stateFromSnapshot: (snapshot) => unpackValue<S>(snapshot),
    handle(state, method, arg, ctx) {
      if (method !== 'command')
        throw new MeterfabricError(
          'MF_UNKNOWN_METHOD',
          `head-end actors take method "command", not "${method}"`,
        );
      const call = arg as CommandCall<C> | null;
      if (!call || typeof call !== 'object' || !('command' in call || 'c' in call))
        throw new MeterfabricError(
          'MF_BAD_REQUEST',
          'head-end actor calls take {command, atMs?} or {c, atMs?}',
        );
      const packed = isPacked(call);
      // A malformed packed command throws MF_COMPACT_INVALID here: nothing is persisted.
      const command = commandOf(call);
      const nowMs = typeof call.atMs === 'number' && Number.isFinite(call.atMs) ? call.atMs : ctx.nowMs;
      if (machine.isRead?.(command)) return { result: reply(machine.read?.(state, command), packed) };
      // The event keeps the form the command came in: a packed one is persisted packed.
      const event: CommandEvent<C> = packed ? { c: (call as { c: unknown }).c, nowMs } : { command, nowMs };
      if (options.inPlace) {
        const { effects } = machine.apply(state, command, nowMs);
        appliedInPlace.add(event);
        return { event, result: reply({ effects }, packed), ...stored(effects, packed) };
      }
      // Decide on a copy: a refused command throws here and nothing is persisted.
      const { effects } = machine.apply(structuredClone(state), command, nowMs);
      return { event, result: reply({ effects }, packed), ...stored(effects, packed) };
    },
    apply: (state, event) => {
      if (appliedInPlace.delete(event)) return state;
      return machine.apply(state, commandOf(event), event.nowMs).state;
    },
  };
}
