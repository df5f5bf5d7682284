import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import type { CommandMachine } from './command-actor.js';

/**
 * A head-end state machine wrapped for hosting with a transactional outbox, so a driver that
 * dies between two calls loses nothing and repeats nothing:
 *
 * - Commands arrive in `deliveries`, each naming its source (`from`: the actor or field link
 *   that caused it) and that source's outbox entry id (`seq`). Per source the highest seq
 *   applied is remembered: a delivery re-sent by a restarted driver is skipped. Sources hand
 *   out seqs in order and a driver delivers them in order per destination, so a high-water
 *   mark is enough (no unbounded set of seen keys).
 * - The effects of one call are kept in the actor's state as one outbox entry (a new id)
 *   until the driver acknowledges them (`ack`) after delivering them on. A restarted driver
 *   reads the outbox and delivers what is still there; the receivers' high-water marks drop
 *   what had already arrived. Effects thus survive a driver crash and a failover (the outbox
 *   is part of the replicated state), where an effect only carried in a reply would be lost.
 * - A refused command (a MeterfabricError from the machine, which validates before touching
 *   its state) changes nothing and is reported in the entry; the rest of the batch goes on.
 *
 * Pure and deterministic given (state, command, nowMs): the actor replays it on failover.
 */

export type Delivery<C> = { from?: string; seq?: number; commands: C[] };

export type HostedCommand<C> =
  | {
      type: 'deliver';
      deliveries: Delivery<C>[];
      /** Outbox entry ids the driver has delivered on: removed. */
      ack?: number[];
      /** Run the machine's periodic command (its `tick`) after the deliveries. */
      tick?: boolean;
    }
  /** Reads (not persisted): the unacknowledged entries, or the whole wrapped state. */
  | { type: 'outbox' }
  | { type: 'state' };

export type Refusal = { code: string; message: string };

export type OutboxEntry<E> = { id: number; effects: E[]; refused?: Refusal[] };

/**
 * A change's reply. `acknowledged` appears only in the reply to a retried call whose entry
 * the driver has acknowledged since: it was delivered on, so it is not in `effects` again.
 */
export type HostedReply<E> = { effects: OutboxEntry<E>[]; acknowledged?: number[] };

/**
 * What the actor persists and remembers for a change: the ids of the entries it made (at
 * most one), not the entries, which the replicated state holds already in its outbox.
 */
export type StoredEntries = { entries: number[] };

export type HostedState<S, E> = {
  inner: S;
  outbox: OutboxEntry<E>[];
  /** The next entry's id; ids start at 1 and only grow (the integration stream's positions). */
  nextId: number;
  /** Source -> highest seq applied. */
  seen: Record<string, number>;
};

export type HostingOptions<S, C, E> = {
  /** The machine's periodic command (jobs manager: dispatch, time out, retry). */
  tick?: C;
  /** Extra effects computed from the state after a call (e.g. a concentrator's meter list). */
  derive?(state: S, effects: readonly E[]): E[];
  /** Turns a refused command into effects instead of a refusal (e.g. a full device queue fails the attempt). */
  onRefused?(command: C, err: MeterfabricError): E[] | undefined;
  /** Bound on unacknowledged entries: a driver that stopped acknowledging is refused, not buffered without end. */
  maxOutboxEntries?: number;
  /** Bound on remembered sources. */
  maxSources?: number;
};

export const defaultMaxOutboxEntries = 20_000;
const defaultMaxSources = 100_000;

export function hostedState<S, E>(inner: S): HostedState<S, E> {
  return { inner, outbox: [], nextId: 1, seen: {} };
}

export function isHostedRead(command: { type: string }): boolean {
  return command.type === 'outbox' || command.type === 'state';
}

export function storeEntries<E>(effects: OutboxEntry<E>[]): StoredEntries {
  return { entries: effects.map((e) => e.id) };
}

/**
 * The reply to a retried change from its stored entry ids: each entry still in the outbox
 * as it was first returned (entries never change once made); one no longer there was
 * acknowledged, i.e. delivered on by the driver that acknowledged it, and is reported as such.
 */
export function replyFromEntries<S, E>(state: HostedState<S, E>, stored: unknown): HostedReply<E> {
  const ids = (stored as Partial<StoredEntries> | null)?.entries;
  if (!Array.isArray(ids) || !ids.every(Number.isSafeInteger))
    throw new MeterfabricError(
      'MF_BAD_STORED_RESULT',
      `a stored head-end result is neither {effects} nor {entries: ids}: ${JSON.stringify(stored)?.slice(0, 200)}`,
    );
  const effects: OutboxEntry<E>[] = [];
  const acknowledged: number[] = [];
  for (const id of ids as number[]) {
    const entry = state.outbox.find((e) => e.id === id);
    if (entry) effects.push(entry);
    else acknowledged.push(id);
  }
  return acknowledged.length > 0 ? { effects, acknowledged } : { effects };
}

export function hostMachine<S, C, E>(
  machine: CommandMachine<S, C, E>,
  options: HostingOptions<S, C, E> = {},
): CommandMachine<HostedState<S, E>, HostedCommand<C>, OutboxEntry<E>> {
  const maxOutbox = options.maxOutboxEntries ?? defaultMaxOutboxEntries;
  const maxSources = options.maxSources ?? defaultMaxSources;
  return {
    initialState: (key) => hostedState(machine.initialState(key)),
    isRead: isHostedRead,
    read: (state, command) => (command.type === 'outbox' ? state.outbox : state),
    storeEffects: storeEntries,
    replyFrom: replyFromEntries,
    apply(state, command, nowMs) {
      if (command.type !== 'deliver')
        throw new MeterfabricError('MF_BAD_REQUEST', `"${command.type}" is a read, not a change`);
      if (!Array.isArray(command.deliveries))
        throw new MeterfabricError('MF_BAD_REQUEST', 'deliver takes a list of deliveries');
      for (const d of command.deliveries)
        if (!d || !Array.isArray(d.commands))
          throw new MeterfabricError('MF_BAD_REQUEST', "a delivery's commands must be a list");
      if (
        command.ack !== undefined &&
        !(Array.isArray(command.ack) && command.ack.every(Number.isSafeInteger))
      )
        throw new MeterfabricError('MF_BAD_REQUEST', 'ack takes entry ids (integers)');
      const acked = new Set(command.ack ?? []);
      const outbox = acked.size > 0 ? state.outbox.filter((e) => !acked.has(e.id)) : state.outbox;
      // Checked before anything changes, so a refused call leaves the state as it was.
      if (outbox.length >= maxOutbox)
        throw new MeterfabricError(
          'MF_HEADEND_QUEUE_FULL',
          `${outbox.length} outbox entries are not acknowledged: the driver must deliver and ack them first`,
        );
      const newSources = new Set(
        command.deliveries.flatMap((d) =>
          d.from !== undefined && state.seen[d.from] === undefined ? [d.from] : [],
        ),
      );
      // Counted only when a source is new: an actor fed by every concentrator remembers
      // thousands, and counting them on each call cost more than the call.
      if (newSources.size > 0 && Object.keys(state.seen).length + newSources.size > maxSources)
        throw new MeterfabricError('MF_HEADEND_QUEUE_FULL', `actor already remembers ${maxSources} sources`);
      state.outbox = outbox;
      const effects: E[] = [];
      const refused: Refusal[] = [];
      let applied = false;
      const run = (c: C) => {
        try {
          effects.push(...machine.apply(state.inner, c, nowMs).effects);
        } catch (err) {
          if (!isMeterfabricError(err)) throw err;
          const replacement = options.onRefused?.(c, err);
          if (replacement) effects.push(...replacement);
          else refused.push({ code: err.code, message: err.message });
        }
      };
      for (const delivery of command.deliveries) {
        const { from, seq } = delivery;
        if (from !== undefined && seq !== undefined) {
          const seen = state.seen[from];
          if (seen !== undefined && seq <= seen) continue;
          state.seen[from] = seq;
        }
        for (const c of delivery.commands) run(c);
        applied = true;
      }
      if (options.tick && (command.tick || applied)) run(options.tick);
      if (options.derive) effects.push(...options.derive(state.inner, effects));
      if (effects.length === 0 && refused.length === 0) return { state, effects: [] };
      const entry: OutboxEntry<E> = { id: state.nextId++, effects, ...(refused.length ? { refused } : {}) };
      state.outbox.push(entry);
      return { state, effects: [entry] };
    },
  };
}
