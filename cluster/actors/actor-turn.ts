import { type ActorSystemRef, dispatch, type Ref, stop } from 'nact';
import type { Clock } from '../../core/clock.js';
import { isMeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { PartitionConfiguration } from '../replicator/contract.js';
import type {
  AnyActorBehaviour,
  OutgoingCallRequest,
  ReminderRequest,
  TimerRequest,
} from './actor-definition.js';
import {
  applyRecord,
  decodeEnvelope,
  type EncodedEnvelope,
  type Envelope,
  encodeEnvelope,
  type PersistedRecord,
} from './actor-envelope.js';
import type { Reminder, ReminderScheduler } from './reminders.js';

/**
 * One actor turn: dedup by idempotency key, the behaviour's pure decision, persist (quorum
 * commit) of the event together with the key and stored result, then the reply and the decision's
 * effects (reminders, volatile timers, sends). One handler per (partition, service), shared
 * by all its actors: per-actor closures would cost more memory than the actors at 100,000.
 */
export type CallMsg = {
  kind: 'call';
  method: string;
  arg: unknown;
  idem: string;
  sender: Ref<CallReply>;
};
export type CallReply = { ok: true; result: unknown } | CallFailure;
export type CallFailure = { ok: false; code: string; message: string };

export type SpawnOptions = {
  handler: unknown;
  properties: unknown;
  /**
   * Why the actor of `key` stopped, from its crash until its callers were answered (then it is
   * gone and the next call spawns and recovers it afresh): a query that finds it stopped in
   * that window gets this reply instead of a timeout. Asked only when a query failed.
   */
  failureOf: (key: string) => CallFailure | undefined;
};

export type ActivePartition = {
  config: PartitionConfiguration;
  spawnOptions: Map<string, SpawnOptions>;
  /** nact name -> key, for keys nact does not accept as names. */
  keyByName: Map<string, string>;
  nextName: number;
  system: ActorSystemRef;
  actors: Map<string, Ref<CallMsg>>;
  reminders: ReminderScheduler;
  /** Volatile timers by `<key>|<name>`; cleared when the partition is deactivated. */
  timers: Map<string, NodeJS.Timeout>;
  timerSeq: number;
};

/** A partition's actor bookkeeping, empty: what ActorHost opens per primary partition (and tests host one turn with). */
export function newActivePartition(
  config: PartitionConfiguration,
  system: ActorSystemRef,
  reminders: ReminderScheduler,
): ActivePartition {
  return {
    config,
    spawnOptions: new Map(),
    keyByName: new Map(),
    nextName: 0,
    system,
    actors: new Map(),
    reminders,
    timers: new Map(),
    timerSeq: 0,
  };
}

export type TurnDeps = {
  /** False only under the test-only MF_FAULT_INJECT=double-apply-retries switch. */
  dedup: boolean;
  clock: Clock;
  logger: Logger;
  /** Calls an actor of this partition (timers fire through it). */
  invoke: (key: string, method: string, arg: unknown, idem: string) => Promise<unknown>;
  send: (call: OutgoingCallRequest) => void;
  /** The cluster's persisted write format (cluster/format/); absent: this build's own. */
  writeFormat?: () => number;
};

const maxTimersPerPartition = 10_000;

export function createSpawnOptions(
  active: ActivePartition,
  behaviour: AnyActorBehaviour,
  service: string,
  deps: TurnDeps,
): SpawnOptions {
  const { dedup, clock, logger } = deps;
  // The idem names the reminder and its due time, so a fire repeated after failover dedups.
  const remindersOf = (key: string, reminders: readonly ReminderRequest[]): Reminder[] =>
    reminders.map((r) => ({ ...r, service, key, idem: `reminder:${key}:${r.name}@${r.dueAtMs}` }));
  const armTimers = (key: string, timers: readonly TimerRequest[]): void => {
    for (const t of timers) {
      const id = `${key}|${t.name}`;
      const previous = active.timers.get(id);
      if (previous) clearTimeout(previous);
      else if (active.timers.size >= maxTimersPerPartition) {
        logger.warn(
          { partition: active.config.partition, key },
          'timer refused: partition timer bound reached',
        );
        continue;
      }
      const idem = `timer:${key}:${t.name}:${active.config.epoch}:${active.timerSeq++}`;
      const timer = setTimeout(
        () => {
          active.timers.delete(id);
          deps
            .invoke(key, t.method, t.arg, idem)
            .catch((err: unknown) =>
              logger.warn({ timer: id, err: String(err) }, 'volatile timer failed (not retried)'),
            );
        },
        Math.min(Math.max(0, t.afterMs), 2 ** 31 - 1),
      );
      timer.unref();
      active.timers.set(id, timer);
    }
  };
  const handler = async (
    envelope: Envelope,
    msg: CallMsg | PersistedRecord,
    ctx: {
      name: string;
      recovering?: boolean;
      persist: (m: PersistedRecord) => Promise<void>;
      self: Ref<CallMsg>;
    },
  ): Promise<Envelope> => {
    if (ctx.recovering) return applyRecord(behaviour, envelope, msg as PersistedRecord);
    const key = active.keyByName.get(ctx.name) ?? ctx.name;
    const call = msg as CallMsg;
    if (dedup && envelope.recent?.has(call.idem)) {
      dispatch(call.sender, dedupReply(behaviour, envelope.user, envelope.recent.get(call.idem)));
      return envelope;
    }
    let decision: ReturnType<AnyActorBehaviour['handle']>;
    try {
      decision = behaviour.handle(envelope.user, call.method, call.arg, { key, nowMs: clock.now() });
    } catch (err) {
      dispatch(call.sender, replyOf(err));
      return envelope;
    }
    if (decision.event === undefined) {
      if (decision.reminders?.length) {
        try {
          await active.reminders.register(remindersOf(key, decision.reminders));
        } catch (err) {
          dispatch(call.sender, replyOf(err));
          return envelope;
        }
      }
      dispatch(call.sender, { ok: true, result: decision.result });
      if (decision.timers?.length) armTimers(key, decision.timers);
      for (const send of decision.sends ?? []) deps.send(send);
      return envelope;
    }
    // The reminders are committed with the event (one replicated operation, see
    // ReplicatedPersistenceEngine) and scheduled only once that commit succeeded.
    let reminders: Reminder[] = [];
    try {
      if (decision.reminders?.length)
        reminders = active.reminders.admit(remindersOf(key, decision.reminders));
    } catch (err) {
      dispatch(call.sender, replyOf(err));
      return envelope;
    }
    const record: PersistedRecord = {
      idem: call.idem,
      ...(reminders.length > 0 ? { reminders } : {}),
      event: decision.event,
      // A stored result only a `replyFrom` can turn back into the reply: a behaviour without
      // one (e.g. a wrapper that did not pass it on) stores the reply itself.
      result: behaviour.replyFrom && 'storedResult' in decision ? decision.storedResult : decision.result,
    };
    try {
      await ctx.persist(record);
    } catch (err) {
      // The outcome is unknown (maybe committed by a quorum, maybe not): this actor's
      // in-memory state can no longer be trusted, so it stops and recovers on next use.
      dispatch(call.sender, isMeterfabricError(err) ? replyOf(err) : unknownOutcomeReply(err));
      // Its reminders may have committed with the event: once the outcome is known on this
      // primary, those in the store get their timers (else they would wait for a failover).
      if (reminders.length > 0) active.reminders.reconcile(reminders);
      active.actors.delete(key);
      active.keyByName.delete(ctx.name);
      stop(ctx.self);
      return envelope;
    }
    if (reminders.length > 0) active.reminders.scheduleCommitted(reminders);
    dispatch(call.sender, { ok: true, result: decision.result });
    if (decision.timers?.length) armTimers(key, decision.timers);
    for (const send of decision.sends ?? []) deps.send(send);
    return applyRecord(behaviour, envelope, record);
  };
  // A failed recovery (a store or snapshot this node refuses to read, a read that failed) or a
  // turn that threw: nact stops the actor and would leave its queued calls unanswered until
  // their timeout. The failure is kept until the actor has stopped, then every queued caller
  // gets it and the actor is forgotten, so the next call recovers afresh (after an upgrade it
  // succeeds; until then it fails the same way). Nothing is written on this path.
  const failures = new Map<string, CallFailure>();
  const onCrash = (
    msg: unknown,
    err: unknown,
    ctx: { name: string; self: Ref<CallMsg>; stop: symbol },
  ): symbol => {
    const key = active.keyByName.get(ctx.name) ?? ctx.name;
    const reply = failureReply(err, service, key);
    if (active.actors.get(key) === ctx.self) failures.set(key, reply);
    if (reply.code !== 'MF_PERSISTED_FORMAT') {
      // The format gate logs its refusal once per partition; anything else is logged here.
      logger.warn(
        { partition: active.config.partition, key, code: reply.code, err: reply.message },
        'actor stopped',
      );
    }
    // A turn that threw before answering: its caller learns why now.
    if ((msg as Partial<CallMsg> | undefined)?.kind === 'call') dispatch((msg as CallMsg).sender, reply);
    return ctx.stop;
  };
  const afterStop = (
    _state: unknown,
    ctx: { name: string; self: Ref<CallMsg>; mailbox: { message: unknown }[] },
  ) => {
    const key = active.keyByName.get(ctx.name) ?? ctx.name;
    const reply = failures.get(key);
    if (!reply || active.actors.get(key) !== ctx.self) return;
    failures.delete(key);
    active.actors.delete(key);
    active.keyByName.delete(ctx.name);
    for (const { message } of ctx.mailbox) {
      if ((message as Partial<CallMsg>).kind === 'call') dispatch((message as CallMsg).sender, reply);
    }
  };
  return {
    handler,
    failureOf: (key) => failures.get(key),
    properties: {
      onCrash,
      afterStop,
      initialStateFunc: (ctx: { name: string }): Envelope => ({
        user: behaviour.initialState(active.keyByName.get(ctx.name) ?? ctx.name),
        recent: null,
      }),
      snapshotEvery: 200,
      snapshotEncoder: (e: Envelope) => encodeEnvelope(e, behaviour, deps.writeFormat?.()),
      snapshotDecoder: (e: EncodedEnvelope) => decodeEnvelope(e, behaviour),
    },
  };
}
/** What the callers of an actor that crashed (mostly: failed to recover its state) are told. */
export function failureReply(err: unknown, service: string, key: string): CallFailure {
  if (isMeterfabricError(err)) return replyOf(err);
  return {
    ok: false,
    code: 'MF_INTERNAL',
    message: `actor ${service}/${key} stopped: ${String(err)}; nothing was written, the next call recovers it afresh`,
  };
}

/** The reply to a retried call: the stored result, or what the behaviour rebuilds from it. */
export function dedupReply(behaviour: AnyActorBehaviour, user: unknown, stored: unknown): CallReply {
  if (!behaviour.replyFrom) return { ok: true, result: stored };
  try {
    return { ok: true, result: behaviour.replyFrom(user, stored) };
  } catch (err) {
    return replyOf(err);
  }
}

/**
 * For a caller, a fenced replica (stale epoch) and a node whose lease ran out both mean
 * "this is no longer the primary": one code, so clients refresh and retry elsewhere.
 */
const steppedDown = new Set(['MF_STALE_EPOCH', 'MF_LEASE_EXPIRED']);

/**
 * A write that failed with something other than the store's own errors: nact throws "Actor
 * has stopped or never even existed" when the partition's actors are stopped (it moved or
 * closed) while a turn is persisting. Its outcome is unknown, as with a quorum timeout, so the
 * caller is told to retry with the same idempotency key (a retryable code), not MF_INTERNAL.
 */
export function unknownOutcomeReply(err: unknown): CallReply {
  return {
    ok: false,
    code: 'MF_UNAVAILABLE',
    message: `the write's outcome is unknown (${String(err)}): the actor stopped while persisting, its partition moved or closed; retry with the same idempotency key`,
  };
}

export function replyOf(err: unknown): CallFailure {
  if (isMeterfabricError(err) && steppedDown.has(err.code)) {
    return {
      ok: false,
      code: 'MF_NOT_PRIMARY',
      message: `not the primary any more (${err.code}: ${err.message})`,
    };
  }
  if (isMeterfabricError(err)) return { ok: false, code: err.code, message: err.message };
  return { ok: false, code: 'MF_INTERNAL', message: String(err) };
}
