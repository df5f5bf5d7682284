/**
 * What a service's actor module exports (named in the service manifest): an event-sourced
 * behaviour. `handle` decides (pure: no I/O, time from ctx), `apply` folds a persisted event
 * into the state, both on the primary and when a new primary replays. A call that returns no
 * event changes nothing and is not persisted (a read).
 */
export type ActorCallContext = {
  key: string;
  nowMs: number;
};

export type ReminderRequest = {
  /** Unique per actor; setting it again replaces the earlier one. */
  name: string;
  dueAtMs: number;
  method: string;
  arg: unknown;
};

/** A volatile timer: fires once on this primary after `afterMs`; lost on failover or restart. */
export type TimerRequest = { name: string; afterMs: number; method: string; arg: unknown };

export type OutgoingCallRequest = {
  service: string;
  key: string;
  method: string;
  arg: unknown;
  idempotencyKey: string;
};

export type Decision<E> = {
  /** The change to persist (replicated to a quorum before the reply). */
  event?: E;
  /** JSON-serialisable reply. */
  result: unknown;
  /**
   * What the persisted record and the dedup table keep in place of `result` (defaults to
   * `result`): a behaviour whose reply repeats what its state already holds (an outbox entry)
   * stores a reference to it, and rebuilds the reply with `replyFrom` on a retried call.
   * Ignored when the behaviour has no `replyFrom`.
   */
  storedResult?: unknown;
  /** Durable reminders to register once the event is committed. */
  reminders?: ReminderRequest[];
  /**
   * Calls to other actors, made after the event is committed (an outbox). Each must carry an
   * idempotency key derived from this call (so the receiver runs it once); delivery is best
   * effort per primary: a send lost in a crash is not replayed, so use a reminder when it must happen.
   */
  sends?: OutgoingCallRequest[];
  /** Volatile timers to start once the reply is sent (replacing any of the same name). */
  timers?: TimerRequest[];
};

export type ActorBehaviour<S, E> = {
  initialState(key: string): S;
  handle(state: S, method: string, arg: unknown, ctx: ActorCallContext): Decision<E>;
  apply(state: S, event: E): S;
  /**
   * The reply to a retried call (same idempotency key) from what was stored for it
   * (`Decision.storedResult`, or `result` when none was given, e.g. in records written before
   * the behaviour stored references) and the actor's current state. Without it the stored
   * result is the reply.
   */
  replyFrom?(state: S, storedResult: unknown): unknown;
  /**
   * The state as a snapshot stores it (JSON-serialisable), e.g. in a compact form; with
   * `stateFromSnapshot`, its inverse. Snapshots written with it are marked, so snapshots
   * written before (the state itself) still load.
   */
  snapshotOf?(state: S): unknown;
  stateFromSnapshot?(snapshot: unknown): S;
};

// biome-ignore lint/suspicious/noExplicitAny: behaviours of every state/event type live in one registry
export type AnyActorBehaviour = ActorBehaviour<any, any>;
