import { MeterfabricError } from '../../core/errors.js';
import { checkReadable, maxReadFormat, persistedFormats } from '../format/persisted-format.js';
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
  /** Only in records of a future form (>= 3): its format number; refused above `maxReadFormat`. */
  f?: number;
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
  if (record.f !== undefined) checkReadable('an actor record', record.f, { idem: record.idem });
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
 * (`snapshotOf`, persisted format 2); snapshots without it hold the state itself (format 1,
 * every snapshot written before). `f` is carried only by snapshots of a future form (>= 3).
 */
export type EncodedEnvelope = { user: unknown; recent: Array<[string, unknown]>; s?: 1; f?: number };

/** The persisted format a snapshot is in (see cluster/format/persisted-format.ts). */
export function snapshotFormat(encoded: Partial<EncodedEnvelope> | null | undefined): number {
  if (encoded && typeof encoded === 'object') {
    if (encoded.f !== undefined) return typeof encoded.f === 'number' ? encoded.f : Number.NaN;
    if (encoded.s !== undefined) return encoded.s === 1 ? persistedFormats.compactSnapshots : Number.NaN;
  }
  return persistedFormats.plain;
}

/**
 * `writeFormat` is the cluster's write format (the lowest format every live node reads): the
 * compact form is written only when it is >= 2, so a node of a build before 2d1ec81 never
 * meets a snapshot it would misread. Without it (a lone host, tests) this build's own format.
 */
export function encodeEnvelope(
  envelope: Envelope,
  behaviour?: AnyActorBehaviour,
  writeFormat: number = maxReadFormat,
): EncodedEnvelope {
  const recent = [...(envelope.recent ?? [])];
  if (
    writeFormat >= persistedFormats.compactSnapshots &&
    behaviour?.snapshotOf &&
    behaviour.stateFromSnapshot
  )
    return { user: behaviour.snapshotOf(envelope.user), recent, s: 1 };
  return { user: envelope.user, recent };
}

export function decodeEnvelope(encoded: EncodedEnvelope, behaviour?: AnyActorBehaviour): Envelope {
  // A form above this build's (or an `s` mark it does not know) is refused, never read as the state.
  const format = snapshotFormat(encoded);
  if (format !== persistedFormats.plain) checkReadable('an actor snapshot', format);
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
