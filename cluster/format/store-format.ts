import type { EventStream, PersistedEvent, PersistedSnapshot, PersistenceEngine } from 'nact';
import { isMeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { snapshotFormat } from '../actors/actor-envelope.js';
import { encodeStateOp } from '../replicator/state-ops.js';
import type { ReplicatedStore } from '../replicator/store-api.js';
import { checkReadable, persistedFormats } from './persisted-format.js';

/**
 * The highest persisted format written into a partition's store, kept as one key of the
 * partition's replicated state (so every replica and every copy of the store carries it). It
 * is written, as its own replicated operation, just before the first snapshot or record of a
 * higher format: the mark may run ahead of the data (a crash between the two), never behind.
 * A store without the key has only format-1 data.
 */
export const storeFormatKey = '__format';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function storeFormatOp(format: number): Uint8Array {
  return encodeStateOp({ kind: 'put', key: storeFormatKey, value: encoder.encode(String(format)) });
}

/** The store's mark (1 when absent); a mark that is not a format number reads as NaN (refused). */
export async function readStoreFormat(store: Pick<ReplicatedStore, 'get'>): Promise<number> {
  const bytes = await store.get(storeFormatKey);
  if (!bytes) return persistedFormats.plain;
  const text = decoder.decode(bytes);
  return /^[0-9]{1,6}$/.test(text) ? Number(text) : Number.NaN;
}

/** Fails with MF_PERSISTED_FORMAT when the store is marked above what this node reads. */
export async function checkStoreFormat(
  store: Pick<ReplicatedStore, 'get'>,
  partition: string,
): Promise<number> {
  const format = await readStoreFormat(store);
  checkReadable(`the store of partition ${partition}`, Number.isNaN(format) ? 'unknown' : format, {
    partition,
  });
  return format;
}

/**
 * nact's persistence engine for one partition, gated by the store's format mark: the first
 * read refuses a store marked above what this node reads (MF_PERSISTED_FORMAT; nothing read,
 * nothing written), and a snapshot of a higher format than the mark raises the mark first.
 * Checked on the first use rather than when the partition is activated: a new primary's reads
 * wait for its epoch barrier, which activation must not.
 */
export class FormatGatedEngine implements PersistenceEngine {
  /** The store's mark once read and accepted; null until then. */
  private mark: number | null = null;
  private checking: Promise<number> | null = null;
  private refusalLogged = false;

  constructor(
    private readonly inner: PersistenceEngine,
    private readonly store: Pick<ReplicatedStore, 'get' | 'replicate'>,
    private readonly partition: string,
    private readonly logger?: Logger,
  ) {}

  /** The store's accepted mark; a transient read failure is retried on the next use. */
  private checked(): Promise<number> {
    if (this.mark !== null) return Promise.resolve(this.mark);
    this.checking ??= checkStoreFormat(this.store, this.partition).then(
      (format) => {
        this.mark = format;
        return format;
      },
      (err: unknown) => {
        this.checking = null;
        // The refused actor's callers get this error (actor-turn.ts answers them when nact
        // stops it); the operator learns it from this line, once per refusal of this engine.
        if (isMeterfabricError(err) && err.code === 'MF_PERSISTED_FORMAT' && !this.refusalLogged) {
          this.refusalLogged = true;
          this.logger?.error({ partition: this.partition, err: err.message }, 'partition store refused');
        }
        throw err;
      },
    );
    return this.checking;
  }

  async latestSnapshot(persistenceKey: string): Promise<PersistedSnapshot> {
    await this.checked();
    return this.inner.latestSnapshot(persistenceKey);
  }

  events(persistenceKey: string, offset: number, limit: number, tags: string[]): EventStream {
    // nact only ever calls reduce() on the stream (see replicated-persistence-engine.ts).
    const gated = {
      reduce: async <T>(fn: (acc: T, e: PersistedEvent, i: number) => T, initial: T): Promise<T> => {
        await this.checked();
        const stream = this.inner.events(persistenceKey, offset, limit, tags) as unknown as {
          reduce(f: typeof fn, init: T): Promise<T>;
        };
        return stream.reduce(fn, initial);
      },
    };
    return gated as unknown as EventStream;
  }

  /** Not async: once the mark was read, a write costs no promise more than the inner engine's. */
  persist(event: PersistedEvent): Promise<void> {
    if (this.mark === null) return this.checked().then(() => this.inner.persist(event));
    return this.inner.persist(event);
  }

  async takeSnapshot(snapshot: PersistedSnapshot): Promise<void> {
    const mark = this.mark ?? (await this.checked());
    const format = snapshotFormat(snapshot.data as Parameters<typeof snapshotFormat>[0]);
    if (format > mark) {
      await this.store.replicate([storeFormatOp(format)]);
      this.mark = format;
    }
    return this.inner.takeSnapshot(snapshot);
  }
}
