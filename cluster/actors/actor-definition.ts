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
};

// biome-ignore lint/suspicious/noExplicitAny: behaviours of every state/event type live in one registry
export type AnyActorBehaviour = ActorBehaviour<any, any>;
