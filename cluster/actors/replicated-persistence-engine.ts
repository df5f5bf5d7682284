import type { EventStream, PersistedEvent, PersistedSnapshot, PersistenceEngine } from 'nact';
import { MeterfabricError } from '../../core/errors.js';
import { encodeStateOp, encodeStatePutText } from '../replicator/state-ops.js';
import type { ReplicatedStore } from '../replicator/store-api.js';
import type { PersistedRecord } from './actor-envelope.js';
import { stringifyStoredEvent } from './arrived-json.js';
import type { Reminder } from './reminders.js';
import { reminderPutOp } from './replicated-reminder-store.js';

/**
 * nact persistence over one partition's replicated state: an event is one replicated
 * operation (so `ctx.persist` resolves after a quorum commit), a snapshot replaces the
 * previous one and deletes the events it covers in the same transaction (bounded log per
 * actor). Reads go to the primary's applied state, which holds every committed operation.
 * A record's reminders (PersistedRecord.reminders) are put in the same replicated operation
 * as its event and left out of the stored event: they live in the reminder dictionary.
 *
 * Keys: `__actors/<persistenceKey>/e/<seq, 12 digits>` and `__actors/<persistenceKey>/s`.
 */
const seqDigits = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function eventKey(persistenceKey: string, sequenceNumber: number): string {
  return `__actors/${persistenceKey}/e/${String(sequenceNumber).padStart(seqDigits, '0')}`;
}

function snapshotKey(persistenceKey: string): string {
  return `__actors/${persistenceKey}/s`;
}

type StoredEvent = { data: unknown; sequenceNumber: number; key: string; tags: string[]; createdAt: number };
type StoredSnapshot = { data: unknown; sequenceNumber: number; key: string; createdAt: number };

export class ReplicatedPersistenceEngine implements PersistenceEngine {
  constructor(private readonly store: ReplicatedStore) {}

  events(persistenceKey: string, offset = 0, limit?: number): EventStream {
    // nact calls `.reduce` on what this returns, with an async reducer: a promise of an array
    // does not have one, so return an array-like whose reduce awaits the scan first.
    const loading = this.store
      .scan({
        gte: eventKey(persistenceKey, offset + 1),
        lt: `__actors/${persistenceKey}/e0`,
        ...(limit ? { limit } : {}),
      })
      .then((entries) =>
        entries.map(([, value]) => {
          const e = JSON.parse(decoder.decode(value)) as StoredEvent;
          return {
            data: e.data,
            sequenceNumber: e.sequenceNumber,
            key: e.key,
            tags: e.tags,
            createdAt: e.createdAt,
            isDeleted: false,
          } as PersistedEvent;
        }),
      );
    // nact 7.6 only ever calls reduce() on the stream.
    const lazy = {
      reduce: <T>(fn: (acc: T, e: PersistedEvent, i: number) => T, initial: T): Promise<T> =>
        loading.then((list) => list.reduce(fn, initial)),
    };
    return lazy as unknown as EventStream;
  }

  async latestSnapshot(persistenceKey: string): Promise<PersistedSnapshot> {
    const value = await this.store.get(snapshotKey(persistenceKey));
    if (!value) return undefined as unknown as PersistedSnapshot;
    const s = JSON.parse(decoder.decode(value)) as StoredSnapshot;
    return {
      data: s.data,
      sequenceNumber: s.sequenceNumber,
      key: s.key,
      createdAt: s.createdAt,
    } as PersistedSnapshot;
  }

  async takeSnapshot(snapshot: PersistedSnapshot): Promise<void> {
    const s = snapshot as unknown as StoredSnapshot;
    const covered = await this.store.scan({
      gte: eventKey(s.key, 1),
      lt: eventKey(s.key, s.sequenceNumber + 1),
    });
    const ops = [
      encodeStateOp({ kind: 'put', key: snapshotKey(s.key), value: encoder.encode(JSON.stringify(s)) }),
      ...covered.map(([key]) => encodeStateOp({ kind: 'del', key })),
    ];
    await this.store.replicate(ops);
  }

  async persist(event: PersistedEvent): Promise<void> {
    const { stored: e, reminders } = splitReminders(event as unknown as StoredEvent);
    // The record's JSON goes straight into the operation's bytes, a packed command's as it
    // arrived (arrived-json.ts): no second serialisation of its readings, no extra copy.
    const text = stringifyStoredEvent(e);
    const valueBytes = Buffer.byteLength(text);
    if (valueBytes > 1024 * 1024) {
      throw new MeterfabricError('MF_PAYLOAD_TOO_LARGE', `actor event of ${valueBytes} bytes exceeds 1 MiB`);
    }
    const op = encodeStatePutText(eventKey(e.key, e.sequenceNumber), text, valueBytes);
    await this.store.replicate(reminders.length === 0 ? [op] : [op, ...reminders.map(reminderPutOp)]);
  }
}

/** The event as stored (its record without reminders) and the reminders to put with it. */
function splitReminders(event: StoredEvent): { stored: StoredEvent; reminders: Reminder[] } {
  const data = event.data as Partial<PersistedRecord> | null;
  if (data === null || typeof data !== 'object' || !Array.isArray(data.reminders)) {
    return { stored: event, reminders: [] };
  }
  // A copy: nact keeps the record it passed, and the turn still needs its reminders.
  const { reminders, ...record } = data;
  return { stored: { ...event, data: record }, reminders };
}
