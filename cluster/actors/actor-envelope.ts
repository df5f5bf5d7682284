import type { AnyActorBehaviour } from './actor-definition.js';
import type { Reminder } from './reminders.js';

/**
 * The state an actor keeps around its behaviour's state: the results of its most recent
 * calls by idempotency key. A persisted record carries its idempotency key and result, so the
 * dedup table is rebuilt by the same replay that rebuilds the state, and an actor's change
 * and its idempotency key are committed in one replicated operation. `result` is what the
 * behaviour chose to store (`Decision.storedResult`: the reply itself, or a reference into
 * the state that `replyFrom` turns back into the reply on a retried call).
 */
export type PersistedRecord = {
  idem: string;
  event: unknown;
  result: unknown;
  /**
   * The decision's reminders, committed by the persistence engine in the same replicated
   * operation as the event (as `__reminders/...` keys, not inside the stored event), so an
   * event is never committed without the reminders it asked for. Absent on replayed records.
   */
  reminders?: Reminder[];
};

/** `recent` is created on the first persisted call: most actors are read far more than written. */
export type Envelope = { user: unknown; recent: Map<string, unknown> | null };

/** Bound on remembered idempotency keys per actor: a retry older than this many calls runs again. */
export const maxRememberedCallsPerActor = 256;

export function applyRecord(
  behaviour: AnyActorBehaviour,
  envelope: Envelope,
  record: PersistedRecord,
): Envelope {
  const user = behaviour.apply(envelope.user, record.event);
  const recent = envelope.recent ?? new Map<string, unknown>();
  recent.set(record.idem, record.result);
  if (recent.size > maxRememberedCallsPerActor) {
    const oldest = recent.keys().next().value as string;
    recent.delete(oldest);
  }
  return { user, recent };
}

export type EncodedEnvelope = { user: unknown; recent: Array<[string, unknown]> };

export function encodeEnvelope(envelope: Envelope): EncodedEnvelope {
  return { user: envelope.user, recent: [...(envelope.recent ?? [])] };
}

export function decodeEnvelope(encoded: EncodedEnvelope): Envelope {
  return { user: encoded.user, recent: encoded.recent.length > 0 ? new Map(encoded.recent) : null };
}
