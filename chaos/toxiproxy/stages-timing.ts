/** The toxics that delay or reshape data without closing: latency, bandwidth, slow_close, slicer. */
import { type CancelTimer, type Chunk, QueueStage, Stage } from './stage-base.js';

/** latency: each chunk leaves at its arrival time + latency ± jitter, in order (latency.go). */
export class LatencyStage extends QueueStage {
  private delayMs(): number {
    const latency = this.spec.attributes.latency ?? 0;
    const jitter = this.spec.attributes.jitter ?? 0;
    // rand.Int63n(jitter*2) - jitter: uniform in [-jitter, jitter).
    return jitter > 0 ? latency + Math.floor(this.env.random() * 2 * jitter) - jitter : latency;
  }

  protected pump(): void {
    while (this.queue.length > 0 && !this.cancel && !this.closed) {
      const head = this.queue[0] as Chunk;
      const sleepMs = this.delayMs() - (this.env.nowMs() - head.timestampMs);
      const release = () => {
        const chunk = this.shift();
        chunk.timestampMs += sleepMs;
        this.next.push(chunk);
      };
      if (sleepMs <= 0) release();
      else
        this.schedule(sleepMs, () => {
          release();
          this.pump();
        });
    }
    if (this.queue.length === 0 && this.endQueued && !this.cancel) this.close();
  }

  /** latency.go: on interrupt the chunk being delayed goes out at once ("don't drop any data"). */
  protected override onInterrupt(): void {
    if (this.cancel && this.queue.length > 0) {
      this.stopTimers();
      this.next.push(this.shift());
    }
  }

  protected override onRestart(): void {
    if (!this.active) this.flushAll();
    else this.pump();
  }
}

/**
 * bandwidth: `rate` KB/s (1 KB = 1000 B). Each chunk adds len/rate ms of debt; chunks longer
 * than rate×100 B go out in rate×100-byte pieces every 100 ms; oversleeping is paid back on
 * later chunks because the debt is reduced by the time actually slept (bandwidth.go).
 */
export class BandwidthStage extends QueueStage {
  private debtMs = 0;
  private headCharged = false;

  protected pump(): void {
    while (this.queue.length > 0 && !this.cancel && !this.closed) {
      const head = this.queue[0] as Chunk;
      const rate = this.spec.attributes.rate ?? 0;
      if (rate <= 0) {
        this.debtMs = 0;
        this.headCharged = false;
        this.next.push(this.shift());
        continue;
      }
      if (!this.headCharged) {
        this.debtMs += head.data.length / rate;
        this.headCharged = true;
      }
      const pieceBytes = rate * 100;
      if (head.data.length > pieceBytes) {
        this.schedule(100, () => {
          const piece = head.data.subarray(0, pieceBytes);
          head.data = head.data.subarray(pieceBytes);
          this.queuedBytes -= pieceBytes;
          this.debtMs -= 100;
          this.next.push({ data: piece, timestampMs: head.timestampMs });
          this.pump();
        });
        return;
      }
      const startMs = this.env.nowMs();
      const release = () => {
        this.debtMs -= this.env.nowMs() - startMs;
        this.headCharged = false;
        this.next.push(this.shift());
      };
      if (this.debtMs <= 0) release();
      else
        this.schedule(this.debtMs, () => {
          release();
          this.pump();
        });
    }
    if (this.queue.length === 0 && this.endQueued && !this.cancel) this.close();
  }

  protected override onInterrupt(): void {
    if (this.cancel && this.queue.length > 0) {
      this.stopTimers();
      this.headCharged = false;
      this.next.push(this.shift());
    }
    this.debtMs = 0;
  }

  protected override onRestart(): void {
    if (!this.active) this.flushAll();
    else this.pump();
  }
}

/** slow_close: data passes untouched; the close is held for `delay` ms (slow_close.go). */
export class SlowCloseStage extends Stage {
  private cancel: CancelTimer | undefined;
  private endQueued = false;

  protected onData(chunk: Chunk): void {
    this.next.push(chunk);
  }

  protected override onEnd(): void {
    this.endQueued = true;
    this.cancel = this.env.setTimer(() => this.close(), this.spec.attributes.delay ?? 0);
  }

  protected override stopTimers(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  protected override onInterrupt(): void {
    this.stopTimers();
  }

  protected override onRestart(): void {
    if (this.endQueued) this.onEnd();
  }

  protected override flushAll(): void {
    if (this.endQueued) this.close();
  }
}

/** Go's SlicerToxic.chunk: cut points for one chunk, split recursively around avg ± variation. */
export function slicePoints(
  start: number,
  end: number,
  averageSize: number,
  sizeVariation: number,
  random: () => number,
): number[] {
  // A zero average would recurse forever in Go; a one-byte floor keeps it finite.
  const average = Math.max(1, averageSize);
  if (end - start - average <= sizeVariation || end - start <= 1) return [start, end];
  let mid = start + Math.floor((end - start) / 2);
  if (sizeVariation > 0) mid += Math.floor(random() * sizeVariation * 2) - sizeVariation;
  mid = Math.min(end - 1, Math.max(start + 1, mid));
  return [
    ...slicePoints(start, mid, average, sizeVariation, random),
    ...slicePoints(mid, end, average, sizeVariation, random),
  ];
}

/** slicer: splits chunks into pieces of about average_size ± size_variation, `delay` µs apart. */
export class SlicerStage extends QueueStage {
  private pieces: Chunk[] = [];

  override heldBytes(): number {
    return super.heldBytes() + this.pieces.reduce((sum, piece) => sum + piece.data.length, 0);
  }

  protected pump(): void {
    const delayMs = (this.spec.attributes.delay ?? 0) / 1000;
    while (!this.cancel && !this.closed) {
      if (this.pieces.length === 0) {
        if (this.queue.length === 0) break;
        const chunk = this.shift();
        const points = slicePoints(
          0,
          chunk.data.length,
          this.spec.attributes.average_size ?? 0,
          this.spec.attributes.size_variation ?? 0,
          () => this.env.random(),
        );
        for (let i = 1; i < points.length; i += 2) {
          const data = chunk.data.subarray(points[i - 1] as number, points[i] as number);
          if (data.length > 0) this.pieces.push({ data, timestampMs: chunk.timestampMs });
        }
        continue;
      }
      this.next.push(this.pieces.shift() as Chunk);
      if (delayMs > 0) this.schedule(delayMs, () => this.pump());
    }
    if (this.pieces.length === 0 && this.queue.length === 0 && this.endQueued && !this.cancel) this.close();
  }

  protected override flushAll(): void {
    while (this.pieces.length > 0) this.next.push(this.pieces.shift() as Chunk);
    super.flushAll();
  }

  protected override onInterrupt(): void {
    this.stopTimers();
    // slicer.go: on interrupt the rest of the chunk in hand goes out in one piece.
    if (this.pieces.length > 0) {
      const rest = Buffer.concat(this.pieces.map((piece) => piece.data));
      const timestampMs = (this.pieces[0] as Chunk).timestampMs;
      this.pieces = [];
      this.next.push({ data: rest, timestampMs });
    }
  }

  protected override onRestart(): void {
    if (!this.active) this.flushAll();
    else this.pump();
  }
}
