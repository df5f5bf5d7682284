import type { ReplicatedStore } from '../cluster/replicator/store-api.js';
import { seqOfKey } from './codec.js';

/**
 * Hands out increasing sequence numbers for keys under `prefix` on the primary. The next
 * number is read from the state (highest existing key) the first time, and again after the
 * replica's epoch changed (another primary may have appended meanwhile). Numbers of aborted
 * transactions are simply skipped, so readers never assume there are no gaps.
 */
export class SequenceAllocator {
  private next = 0;
  private epoch = -1;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly store: ReplicatedStore,
    private readonly prefix: string,
    private readonly upperBound: string,
  ) {}

  async allocate(): Promise<number> {
    const epoch = this.store.status().epoch;
    if (epoch !== this.epoch) {
      if (!this.loading) {
        this.loading = this.load(epoch).finally(() => {
          this.loading = null;
        });
      }
      await this.loading;
    }
    this.next += 1;
    return this.next;
  }

  private async load(epoch: number): Promise<void> {
    const [last] = await this.store.scan({ gte: this.prefix, lt: this.upperBound, reverse: true, limit: 1 });
    const highest = last ? seqOfKey(last[0]) : 0;
    // never go back within one epoch: numbers handed out but not yet committed stay taken
    this.next = this.epoch === epoch ? Math.max(this.next, highest) : highest;
    this.epoch = epoch;
  }
}
