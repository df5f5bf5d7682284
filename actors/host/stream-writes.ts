import type { StreamBatch } from '../integration/checkpoint-stream.js';

/**
 * Writes a stream entry. Called in position order, possibly for the next position before the
 * last one's promise settled (`streamWritesInFlight`): it must then not make a later position
 * durable when an earlier one failed (CheckpointConsumer fences itself: output-order.ts).
 */
export type StreamWriter = (position: number, batches: readonly StreamBatch[]) => Promise<void>;

/** Stream entries written at once by default (HeadendDriverOptions.streamWritesInFlight). */
export const defaultStreamWritesInFlight = 4;

/**
 * The driver's stream writes: batches are handed to the writer in position order, up to
 * `maxInFlight` at once (the next is encoded and staged while the last waits for its fsyncs,
 * and the CSV writers merge what arrives meanwhile into one commit), and acknowledged (the
 * checkpoint: `release`) strictly in position order, each only once it and every earlier one
 * are written. After a failure nothing later is written or acknowledged: the writers skip
 * positions at or below their last, so a later position written first would turn the failed
 * one's replay into a skip (the writers also refuse it themselves: output-order.ts).
 */
export class StreamWrites {
  /** Settles once every write handed over so far has been written and released (or failed). */
  chain: Promise<void> = Promise.resolve();
  /** Writes handed over and not yet released or failed. */
  pending = 0;
  private inFlight = 0;
  private readonly room: (() => void)[] = [];
  private failed = false;

  constructor(
    private readonly writer: StreamWriter | undefined,
    private readonly maxInFlight: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  write(position: number, batches: StreamBatch[], release: () => void): void {
    this.pending++;
    // A slot: taken now if one is free, else handed on by a write that ends (FIFO: position order).
    let room = Promise.resolve();
    if (this.inFlight < this.maxInFlight) this.inFlight++;
    else room = new Promise<void>((resolve) => this.room.push(resolve));
    const written = room
      .then(() => {
        if (this.failed) throw new Error(`stream position ${position} not written: an earlier one failed`);
        return this.writer?.(position, batches);
      })
      .finally(() => {
        const next = this.room.shift();
        if (next) next();
        else this.inFlight--;
      });
    written.catch(() => undefined);
    this.chain = this.chain
      .then(() => written)
      .then(
        () => {
          if (!this.failed) release();
        },
        (err: unknown) => {
          this.failed = true;
          this.onError(err);
        },
      )
      .finally(() => {
        this.pending--;
      });
  }
}
