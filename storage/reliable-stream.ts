import type { ReplicatedStore } from '../cluster/replicator/store-api.js';
import { seqKey, seqOfKey, type ValueCodec } from './codec.js';
import { checkName, checkUserKey } from './names.js';
import { SequenceAllocator } from './sequence.js';
import type { Transaction } from './transaction.js';

export type StreamRecord<V> = { seq: number; value: V };

/**
 * An append-only replicated log of one partition with named consumer checkpoints: a
 * consumer reads after its checkpoint, does its work, and advances the checkpoint in a
 * transaction (with its own other writes, so "processed" and "checkpointed" commit together).
 * Sequence numbers increase; aborted appends leave gaps.
 */
export class ReliableStream<V> {
  private readonly records: string;
  private readonly recordsEnd: string;
  private readonly checkpoints: string;
  private readonly sequence: SequenceAllocator;

  constructor(
    private readonly store: ReplicatedStore,
    readonly name: string,
    private readonly codec: ValueCodec<V>,
  ) {
    checkName('stream', name);
    this.records = `T/${name}/r/`;
    this.recordsEnd = `T/${name}/r0`;
    this.checkpoints = `T/${name}/c/`;
    this.sequence = new SequenceAllocator(store, this.records, this.recordsEnd);
  }

  /** Appends in `tx`; resolves with the record's sequence number (valid once tx commits). */
  async append(tx: Transaction, value: V): Promise<number> {
    const bytes = this.codec.encode(value);
    const seq = await this.sequence.allocate();
    tx.put(this.records + seqKey(seq), bytes);
    return seq;
  }

  /** Committed records with seq > afterSeq, oldest first, at most `limit`. */
  async read(afterSeq: number, limit = 1_000): Promise<Array<StreamRecord<V>>> {
    const rows = await this.store.scan({
      gte: this.records + seqKey(afterSeq + 1),
      lt: this.recordsEnd,
      limit,
    });
    return rows.map(([k, v]) => ({ seq: seqOfKey(k), value: this.codec.decode(v) }));
  }

  /** The consumer's committed checkpoint (0 before its first). */
  async checkpoint(consumer: string, tx?: Transaction): Promise<number> {
    const key = this.checkpoints + checkUserKey(consumer);
    const bytes = tx ? await tx.get(key) : await this.store.get(key);
    return bytes ? Number(new TextDecoder().decode(bytes)) : 0;
  }

  /** Moves the consumer's checkpoint to `seq` in `tx` (never backwards). */
  async advance(tx: Transaction, consumer: string, seq: number): Promise<void> {
    const current = await this.checkpoint(consumer, tx);
    if (seq <= current) return;
    tx.put(this.checkpoints + checkUserKey(consumer), new TextEncoder().encode(String(seq)));
  }

  /** Records after the consumer's checkpoint. */
  async readFor(consumer: string, limit = 1_000): Promise<Array<StreamRecord<V>>> {
    return this.read(await this.checkpoint(consumer), limit);
  }
}
