import type { ReplicatedStore } from '../cluster/replicator/store-api.js';
import type { ValueCodec } from './codec.js';
import { checkName, checkUserKey } from './names.js';
import type { Transaction } from './transaction.js';

/**
 * A replicated key-value map of one partition. Writes go through a transaction (atomic with
 * the transaction's other collections); reads are served by the primary from committed state,
 * or through a transaction to see its own writes. Concurrent transactions writing the same
 * key: the one committed last (higher LSN) wins.
 */
export class ReliableDictionary<V> {
  private readonly prefix: string;

  constructor(
    private readonly store: ReplicatedStore,
    readonly name: string,
    private readonly codec: ValueCodec<V>,
  ) {
    this.prefix = `D/${checkName('dictionary', name)}/`;
  }

  private key(key: string): string {
    return this.prefix + checkUserKey(key);
  }

  async get(key: string, tx?: Transaction): Promise<V | undefined> {
    const bytes = tx ? await tx.get(this.key(key)) : await this.store.get(this.key(key));
    return bytes === undefined ? undefined : this.codec.decode(bytes);
  }

  set(tx: Transaction, key: string, value: V): void {
    tx.put(this.key(key), this.codec.encode(value));
  }

  delete(tx: Transaction, key: string): void {
    tx.del(this.key(key));
  }

  /** Reads, transforms and writes one key in `tx`. */
  async update(tx: Transaction, key: string, fn: (current: V | undefined) => V): Promise<V> {
    const next = fn(await this.get(key, tx));
    this.set(tx, key, next);
    return next;
  }

  /** Committed entries in key order, optionally those whose key starts with `keyPrefix`. */
  async entries(options: { keyPrefix?: string; limit?: number } = {}): Promise<Array<[string, V]>> {
    const gte = this.prefix + (options.keyPrefix ?? '');
    const rows = await this.store.scan({ gte, lt: `${gte}\u{10ffff}`, limit: options.limit ?? 10_000 });
    return rows.map(([k, v]) => [k.slice(this.prefix.length), this.codec.decode(v)]);
  }
}
