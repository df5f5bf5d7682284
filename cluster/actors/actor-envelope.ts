import type { AnyActorBehaviour } from './actor-definition.js';

/**
 * The state an actor keeps around its behaviour's state: the results of its most recent
 * calls by idempotency key. A persisted record carries its idempotency key and result, so the
 * dedup table is rebuilt by the same replay that rebuilds the state, and an actor's change
 * and its idempotency key are committed in one replicated operation.
 */
export type PersistedRecord = { idem: string; event: unknown; result: unknown };

export type Envelope = { user: unknown; recent: Map<string, unknown> };

/** Bound on remembered idempotency keys per actor: a retry older than this many calls runs again. */
export const maxRememberedCallsPerActor = 256;

export function applyRecord(
  behaviour: AnyActorBehaviour,
  envelope: Envelope,
  record: PersistedRecord,
): Envelope {
  const user = behaviour.apply(envelope.user, record.event);
  envelope.recent.set(record.idem, record.result);
  if (envelope.recent.size > maxRememberedCallsPerActor) {
    const oldest = envelope.recent.keys().next().value as string;
    envelope.recent.delete(oldest);
  }
  return { user, recent: envelope.recent };
}

export type EncodedEnvelope = { user: unknown; recent: Array<[string, unknown]> };

export function encodeEnvelope(envelope: Envelope): EncodedEnvelope {
  return { user: envelope.user, recent: [...envelope.recent] };
}

export function decodeEnvelope(encoded: EncodedEnvelope): Envelope {
  return { user: encoded.user, recent: new Map(encoded.recent) };
}
