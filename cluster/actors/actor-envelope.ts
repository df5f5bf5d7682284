import { MeterfabricError } from '../../core/errors.js';
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

/**
 * A snapshot's form of the envelope. `s: 1` marks a user state in the behaviour's snapshot form
 * (`snapshotOf`); snapshots without it hold the state itself (every snapshot written before).
 */
export type EncodedEnvelope = { user: unknown; recent: Array<[string, unknown]>; s?: 1 };

export function encodeEnvelope(envelope: Envelope, behaviour?: AnyActorBehaviour): EncodedEnvelope {
  const recent = [...(envelope.recent ?? [])];
  if (behaviour?.snapshotOf && behaviour.stateFromSnapshot)
    return { user: behaviour.snapshotOf(envelope.user), recent, s: 1 };
  return { user: envelope.user, recent };
}

export function decodeEnvelope(encoded: EncodedEnvelope, behaviour?: AnyActorBehaviour): Envelope {
  let user = encoded.user;
  if (encoded.s === 1) {
    if (!behaviour?.stateFromSnapshot)
      throw new MeterfabricError(
        'MF_SNAPSHOT_FORM',
        'the snapshot holds the state in a compact form this behaviour cannot read (stateFromSnapshot missing)',
      );
    user = behaviour.stateFromSnapshot(user);
  }
  return { user, recent: encoded.recent.length > 0 ? new Map(encoded.recent) : null };
}
