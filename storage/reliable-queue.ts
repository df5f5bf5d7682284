import type { ReplicatedStore } from '../cluster/replicator/store-api.js';
import { seqKey, type ValueCodec } from './codec.js';
import { checkName } from './names.js';
import { SequenceAllocator } from './sequence.js';
import type { Transaction } from './transaction.js';

/**
 * A replicated FIFO queue of one partition. An item dequeued in a transaction is reserved
 * (invisible to other dequeuers) until that transaction commits (gone) or aborts (back at
 * its place). Items enqueued by concurrent transactions appear in commit order.
 */
export class ReliableQueue<V> {
  private readonly prefix: string;
  private readonly end: string;
  private readonly sequence: SequenceAllocator;
  private readonly reserved = new Set<string>();

  constructor(
    private readonly store: ReplicatedStore,
    readonly name: string,
    private readonly codec: ValueCodec<V>,
  ) {
    this.prefix = `Q/${checkName('queue', name)}/`;
    this.end = `Q/${name}0`; // '0' sorts right after '/'
    this.sequence = new SequenceAllocator(store, this.prefix, this.end);
  }

  async enqueue(tx: Transaction, value: V): Promise<void> {
    const bytes = this.codec.encode(value);
    const seq = await this.sequence.allocate();
    tx.put(this.prefix + seqKey(seq), bytes);
  }

  /** Takes the oldest item not reserved by another transaction; undefined when empty. */
  async dequeue(tx: Transaction): Promise<V | undefined> {
    // Other dequeuers may reserve items while this scan is in flight: rescan until a free
    // item is found or the scan returned fewer rows than asked (the queue is exhausted).
    for (;;) {
      const limit = this.reserved.size + 1;
      const rows = await this.store.scan({ gte: this.prefix, lt: this.end, limit });
      for (const [key, value] of rows) {
        if (this.reserved.has(key) || tx.ownWrite(key) === null) continue;
        this.reserved.add(key);
        tx.onFinish(() => this.reserved.delete(key));
        tx.del(key);
        return this.codec.decode(value);
      }
      if (rows.length < limit) return undefined;
    }
  }

  /** The oldest committed item, left in place. */
  async peek(): Promise<V | undefined> {
    const [first] = await this.store.scan({ gte: this.prefix, lt: this.end, limit: 1 });
    return first ? this.codec.decode(first[1]) : undefined;
  }

  /** Committed items (up to `limit`), oldest first. */
  async items(limit = 10_000): Promise<V[]> {
    const rows = await this.store.scan({ gte: this.prefix, lt: this.end, limit });
    return rows.map(([, v]) => this.codec.decode(v));
  }

  async count(limit = 1_000_000): Promise<number> {
    return (await this.store.scan({ gte: this.prefix, lt: this.end, limit })).length;
  }
}
