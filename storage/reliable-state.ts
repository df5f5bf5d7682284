import type { ReplicatedStore } from '../cluster/replicator/store-api.js';
import { jsonCodec, type ValueCodec } from './codec.js';
import { ReliableDictionary } from './reliable-dictionary.js';
import { ReliableQueue } from './reliable-queue.js';
import { ReliableStream } from './reliable-stream.js';
import { Transaction } from './transaction.js';

/**
 * The reliable collections of one partition (Service Fabric's IReliableStateManager): get a
 * collection by name, start a transaction spanning any of them, commit it once.
 *
 *   const tx = state.transaction();
 *   await state.queue<Job>('jobs').enqueue(tx, job);
 *   state.dictionary<Job>('inflight').set(tx, job.id, job);
 *   await tx.commit();   // one replicate(): both or neither, on every replica
 */
export class ReliableStateManager {
  private readonly collections = new Map<string, unknown>();

  constructor(readonly store: ReplicatedStore) {}

  transaction(): Transaction {
    return new Transaction(this.store);
  }

  /** Runs `body` in a transaction and commits it; aborts if `body` throws. */
  async run<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
    const tx = this.transaction();
    try {
      const result = await body(tx);
      await tx.commit();
      return result;
    } catch (err) {
      tx.abort();
      throw err;
    }
  }

  private named<C>(kind: string, name: string, make: () => C): C {
    const id = `${kind}:${name}`;
    let collection = this.collections.get(id) as C | undefined;
    if (!collection) {
      collection = make();
      this.collections.set(id, collection);
    }
    return collection;
  }

  dictionary<V>(name: string, codec: ValueCodec<V> = jsonCodec<V>()): ReliableDictionary<V> {
    return this.named('D', name, () => new ReliableDictionary<V>(this.store, name, codec));
  }

  queue<V>(name: string, codec: ValueCodec<V> = jsonCodec<V>()): ReliableQueue<V> {
    return this.named('Q', name, () => new ReliableQueue<V>(this.store, name, codec));
  }

  stream<V>(name: string, codec: ValueCodec<V> = jsonCodec<V>()): ReliableStream<V> {
    return this.named('T', name, () => new ReliableStream<V>(this.store, name, codec));
  }
}
