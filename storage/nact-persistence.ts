import type { PersistedEvent, PersistedSnapshot, PersistenceEngine } from 'nact';
import { encodeStateOp } from '../cluster/replicator/state-ops.js';
import type { ReplicatedStore } from '../cluster/replicator/store-api.js';
import { seqKey } from './codec.js';
import { CollectionInputError } from './names.js';

/** Bounds: a persistence key names one actor; one event is one replicated operation. */
export const MAX_PERSISTENCE_KEY_LENGTH = 256;
export const MAX_EVENT_BYTES = 1024 * 1024;

/** Which partition's store holds an actor's events (the control plane maps keys to partitions). */
export type StoreResolver = (persistenceKey: string) => ReplicatedStore | Promise<ReplicatedStore>;

type StoredEvent = { data: unknown; tags: string[]; createdAt: number; isDeleted: boolean };
type StoredSnapshot = { data: unknown; sequenceNumber: number; createdAt: number };

const enc = new TextEncoder();
const dec = new TextDecoder();

function checkKey(key: string): string {
  if (key.length === 0 || key.length > MAX_PERSISTENCE_KEY_LENGTH || key.includes('/')) {
    throw new CollectionInputError(
      `persistence key "${key.slice(0, 40)}" is invalid: 1..${MAX_PERSISTENCE_KEY_LENGTH} characters, no "/"`,
    );
  }
  return key;
}

function encodeJson(value: unknown, what: string): Uint8Array {
  const bytes = enc.encode(JSON.stringify(value));
  if (bytes.length > MAX_EVENT_BYTES) {
    throw new CollectionInputError(`${what} of ${bytes.length} bytes exceeds ${MAX_EVENT_BYTES} bytes`);
  }
  return bytes;
}

/**
 * nact's persistence engine over the replicated store: each event and snapshot is one
 * replicated operation, so `ctx.persist(msg)` resolves only after a majority of the
 * partition's replicas persisted it (and rejects with the replicator's error otherwise, e.g.
 * MF_NOT_PRIMARY, MF_QUORUM_LOSS). A new primary recovers an actor from the latest snapshot
 * plus the events after it, all read from the committed state it took over.
 *
 *   const system = start(configurePersistence(new ReplicatedPersistenceEngine(resolver).asNact()));
 */
export class ReplicatedPersistenceEngine {
  constructor(private readonly resolve: StoreResolver) {}

  static forStore(store: ReplicatedStore): ReplicatedPersistenceEngine {
    return new ReplicatedPersistenceEngine(() => store);
  }

  /** The engine typed as nact expects (nact tolerates a missing snapshot although its types do not say so). */
  asNact(): PersistenceEngine {
    return this as unknown as PersistenceEngine;
  }

  async persist(event: PersistedEvent): Promise<void> {
    const key = checkKey(event.key);
    const stored: StoredEvent = {
      data: event.data,
      tags: event.tags,
      createdAt: event.createdAt,
      isDeleted: event.isDeleted,
    };
    const store = await this.resolve(key);
    await store.replicate([
      encodeStateOp({
        kind: 'put',
        key: `E/${key}/${seqKey(event.sequenceNumber)}`,
        value: encodeJson(stored, 'event'),
      }),
    ]);
  }

  async takeSnapshot(snapshot: PersistedSnapshot): Promise<void> {
    const key = checkKey(snapshot.key);
    const stored: StoredSnapshot = {
      data: snapshot.data,
      sequenceNumber: snapshot.sequenceNumber,
      createdAt: snapshot.createdAt,
    };
    const store = await this.resolve(key);
    await store.replicate([
      encodeStateOp({ kind: 'put', key: `N/${key}`, value: encodeJson(stored, 'snapshot') }),
    ]);
  }

  async latestSnapshot(persistenceKey: string): Promise<PersistedSnapshot | undefined> {
    const key = checkKey(persistenceKey);
    const bytes = await (await this.resolve(key)).get(`N/${key}`);
    if (!bytes) return undefined;
    const stored = JSON.parse(dec.decode(bytes)) as StoredSnapshot;
    return {
      key,
      data: stored.data as PersistedSnapshot['data'],
      sequenceNumber: stored.sequenceNumber,
      createdAt: stored.createdAt,
    };
  }

  /** Events with sequence number > offset, oldest first; with tags, only events carrying all of them. */
  events(persistenceKey: string, offset = 0, limit?: number, tags?: string[]) {
    const load = async (): Promise<PersistedEvent[]> => {
      const key = checkKey(persistenceKey);
      const store = await this.resolve(key);
      const rows = await store.scan({
        gte: `E/${key}/${seqKey(offset + 1)}`,
        lt: `E/${key}0`,
        limit: limit ?? -1,
      });
      const events = rows.map(([k, v]) => {
        const stored = JSON.parse(dec.decode(v)) as StoredEvent;
        return {
          key,
          sequenceNumber: Number.parseInt(k.slice(k.length - 13), 16),
          data: stored.data as PersistedEvent['data'],
          tags: stored.tags,
          createdAt: stored.createdAt,
          isDeleted: stored.isDeleted,
        };
      });
      return tags && tags.length > 0 ? events.filter((e) => tags.every((t) => e.tags.includes(t))) : events;
    };
    const loaded = load();
    // nact's EventStream: a promise of the events that can also be reduced directly
    return Object.assign(loaded, {
      reduce: async <U>(fn: (acc: U, event: PersistedEvent, index: number) => U, initial: U): Promise<U> =>
        (await loaded).reduce(fn, initial),
    });
  }
}
