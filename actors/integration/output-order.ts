import type { CsvRow } from '../../adapters/csv/codec.js';
import type { AppendResult } from '../../adapters/csv/daily-writer.js';
import { MeterfabricError } from '../../core/errors.js';

/**
 * Stream positions reach each output in order, with no gap: the writers skip a position at or
 * below the last one they wrote (that is what makes a replay exactly once), so a later position
 * written after an earlier one failed would make the replay of the earlier one a "replay" and
 * lose it. With several positions in flight (the driver's `streamWritesInFlight`) each output
 * therefore fences itself at the first position it failed: later ones are refused with this
 * error until the failed one is written again.
 */
export class OutputOrderError extends MeterfabricError {
  constructor(output: string, seq: number, failedSeq: number) {
    super(
      'MF_OUTPUT_ORDER',
      `stream position ${seq} was not written to ${output}: position ${failedSeq} failed there first, and a later one written before it would make its replay a skip; write ${failedSeq} again (replay from the checkpoint) and the later positions follow`,
      { output, seq, failedSeq },
    );
    this.name = 'OutputOrderError';
  }
}

/**
 * One output's fence: after a position failed, a later one goes ahead only behind a retry of
 * the failed one (the retry is then ahead of it in the output's own order, and if the retry fails
 * again, what queued behind it fails with it). Positions below the failed one are replays.
 */
export class OrderFence {
  private failedSeq: number | undefined;
  private retrying = false;

  constructor(private readonly output: string) {}

  /** The first failed position not yet written again. */
  get from(): number | undefined {
    return this.failedSeq;
  }

  /** Throws OutputOrderError when `seq` may not go ahead now (nothing changes). */
  check(seq: number): void {
    if (this.failedSeq !== undefined && seq > this.failedSeq && !this.retrying)
      throw new OutputOrderError(this.output, seq, this.failedSeq);
  }

  /** `check`, and a retry of the failed position lets the ones after it queue behind it. */
  admit(seq: number): void {
    this.check(seq);
    if (seq === this.failedSeq) this.retrying = true;
  }

  /** `seq` failed (itself, not refused by this fence). */
  failed(seq: number): void {
    this.failedSeq = Math.min(this.failedSeq ?? seq, seq);
    this.retrying = false;
  }

  /** Positions up to `seq` are written: the fence is lifted once that covers the failed one. */
  written(seq: number): void {
    if (this.failedSeq !== undefined && seq >= this.failedSeq) {
      this.failedSeq = undefined;
      this.retrying = false;
    }
  }
}

/** The append a CsvConsumer lane makes (DailyCsvWriter.append). */
export type KindAppend = (
  rows: readonly CsvRow[],
  options: { seq: number; collectedAtMs: number },
) => Promise<AppendResult>;

type Queued = {
  rows: readonly CsvRow[];
  seq: number;
  collectedAtMs: number;
  resolve: (rows: number) => void;
  reject: (err: unknown) => void;
};

/** Rows merged into one append at most (the writer refuses batches over 200,000). */
export const maxMergedRows = 50_000;

/**
 * One daily file kind's appends, one at a time: positions that arrive while one is being
 * written are merged into the next append (their rows in position order, the last position as
 * its seq: all of them durable together or none), as long as they were collected at the same
 * instant (the file's day) and stay under `maxMergedRows`. Each merged position resolves with
 * its rows once the append is durable. A failed append rejects every position in it and fences
 * the kind there (OrderFence) until that position is written again.
 */
export class KindLane {
  private readonly queue: Queued[] = [];
  private running = false;
  private readonly fence: OrderFence;

  constructor(
    private readonly output: string,
    private readonly append: KindAppend,
    private readonly lastSeq: () => number,
  ) {
    this.fence = new OrderFence(output);
  }

  /** Resolves with the rows written for `seq` (0: already written, a replay). */
  write(rows: readonly CsvRow[], seq: number, collectedAtMs: number): Promise<number> {
    try {
      this.fence.admit(seq);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ rows, seq, collectedAtMs, resolve, reject });
      if (!this.running) void this.next();
    });
  }

  private async next(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const first = this.queue.shift()!;
        // A replay (at or below what the writer has) is not merged: the writer skips it alone.
        if (first.seq <= this.lastSeq()) {
          await this.run([first]);
          continue;
        }
        const group = [first];
        let rows = first.rows.length;
        while (this.queue.length > 0) {
          const candidate = this.queue[0]!;
          if (
            candidate.seq <= group.at(-1)!.seq ||
            candidate.collectedAtMs !== first.collectedAtMs ||
            rows + candidate.rows.length > maxMergedRows
          )
            break;
          group.push(this.queue.shift()!);
          rows += candidate.rows.length;
        }
        await this.run(group);
      }
    } finally {
      this.running = false;
    }
  }

  private async run(group: readonly Queued[]): Promise<void> {
    const first = group[0]!;
    const last = group.at(-1)!;
    const rows = group.length === 1 ? first.rows : group.flatMap((q) => q.rows);
    try {
      const result = await this.append(rows, { seq: last.seq, collectedAtMs: first.collectedAtMs });
      this.fence.written(last.seq);
      for (const q of group) q.resolve(result.skipped ? 0 : q.rows.length);
    } catch (err) {
      for (const q of group) q.reject(err);
      this.fence.failed(first.seq);
      // Queued behind the failure: refused now, they would be written before it.
      const failedSeq = this.fence.from ?? first.seq;
      for (let i = this.queue.length - 1; i >= 0; i--) {
        const queued = this.queue[i]!;
        if (queued.seq <= failedSeq) continue;
        this.queue.splice(i, 1);
        queued.reject(new OutputOrderError(this.output, queued.seq, failedSeq));
      }
    }
  }
}
