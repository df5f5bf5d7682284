/**
 * One toxic acting on one link (one connection, one direction): the Node form of a Go
 * ToxicStub running a toxic's Pipe(). Stages form a chain; each hands chunks to `next`.
 *
 * Semantics follow Shopify/toxiproxy 2.12 (toxics/*.go, link.go):
 * - only `timeout` drops data; every other stage flushes what it holds when it is removed;
 * - `end()` is the Go nil chunk (EOF): it travels behind the data already queued;
 * - a stage that closes (timeout expiry, reset_peer, limit_data) ends its output and drops
 *   whatever still arrives, which tears the connection down behind it;
 * - `toxicity` is rolled when the stage starts and again when it is updated, per link.
 * Timers and randomness come from `StageEnv`, so the stages run under a manual scheduler in
 * unit tests and on real timers in the proxy.
 */
import type { ToxicSpec } from './toxic-types.js';

export type Chunk = { data: Buffer; timestampMs: number };

export interface ChunkSink {
  push(chunk: Chunk): void;
  end(): void;
}

export type CancelTimer = () => void;

export interface StageEnv {
  nowMs(): number;
  setTimer(callback: () => void, delayMs: number): CancelTimer;
  random(): number;
}

export const realStageEnv: StageEnv = {
  nowMs: () => performance.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    return () => clearTimeout(handle);
  },
  random: () => Math.random(),
};

export abstract class Stage implements ChunkSink {
  next: ChunkSink;
  spec: ToxicSpec;
  /** False when the toxicity roll made this stage a noop for this link. */
  active = true;
  closed = false;
  protected readonly env: StageEnv;

  constructor(spec: ToxicSpec, next: ChunkSink, env: StageEnv) {
    this.spec = spec;
    this.next = next;
    this.env = env;
    this.roll();
  }

  get name(): string {
    return this.spec.name;
  }

  private roll(): void {
    this.active = this.env.random() < this.spec.toxicity;
  }

  push(chunk: Chunk): void {
    if (this.closed) return;
    if (!this.active) this.next.push(chunk);
    else this.onData(chunk);
  }

  end(): void {
    if (this.closed) return;
    if (!this.active) this.close();
    else this.onEnd();
  }

  /** Ends this stage's output (Go's stub.Close()): later input is discarded. */
  protected close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    this.next.end();
  }

  /** A toxic update: Go interrupts the running Pipe and starts it again with the new toxic. */
  update(spec: ToxicSpec): void {
    if (this.closed) {
      this.spec = spec;
      return;
    }
    this.onInterrupt();
    this.spec = spec;
    this.roll();
    this.onRestart();
  }

  /** The toxic is being removed from this link: hand on everything held, in order. */
  detach(): void {
    if (this.closed) return;
    this.stopTimers();
    this.flushAll();
  }

  /** Bytes this stage holds and has not yet handed on (for back-pressure). */
  heldBytes(): number {
    return 0;
  }

  protected abstract onData(chunk: Chunk): void;
  protected onEnd(): void {
    this.close();
  }
  /** Go's interrupt of a running Pipe: what it does with the chunk in hand. */
  protected onInterrupt(): void {}
  protected onRestart(): void {}
  protected stopTimers(): void {}
  /** Hands on everything held, then the end if one was queued. */
  protected flushAll(): void {}
}

export class NoopStage extends Stage {
  protected onData(chunk: Chunk): void {
    this.next.push(chunk);
  }
}

/** A FIFO of chunks with one timer for its head and an optional queued end. */
abstract class QueueStage extends Stage {
  protected queue: Chunk[] = [];
  protected endQueued = false;
  protected cancel: CancelTimer | undefined;
  protected queuedBytes = 0;

  override heldBytes(): number {
    return this.queuedBytes;
  }

  protected onData(chunk: Chunk): void {
    this.queue.push(chunk);
    this.queuedBytes += chunk.data.length;
    if (!this.cancel) this.pump();
  }

  protected override onEnd(): void {
    this.endQueued = true;
    if (!this.cancel) this.pump();
  }

  protected shift(): Chunk {
    const head = this.queue.shift() as Chunk;
    this.queuedBytes -= head.data.length;
    return head;
  }

  protected override stopTimers(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  protected override flushAll(): void {
    while (this.queue.length > 0) this.next.push(this.shift());
    if (this.endQueued) this.close();
  }

  protected schedule(delayMs: number, callback: () => void): void {
    this.cancel = this.env.setTimer(() => {
      this.cancel = undefined;
      callback();
    }, delayMs);
  }

  /** Processes the queue until it must wait (then a timer is set) or it is empty. */
  protected abstract pump(): void;
}

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

/**
 * timeout: drops every chunk and closes after `timeout` ms (never with 0). Removing it closes
 * the link (its Cleanup), whether or not the toxicity roll made it active (timeout.go, link.go).
 */
export class TimeoutStage extends Stage {
  private cancel: CancelTimer | undefined;
  droppedBytes = 0;

  constructor(spec: ToxicSpec, next: ChunkSink, env: StageEnv) {
    super(spec, next, env);
    this.onRestart();
  }

  protected onData(chunk: Chunk): void {
    this.droppedBytes += chunk.data.length;
  }

  protected override onRestart(): void {
    const timeoutMs = this.spec.attributes.timeout ?? 0;
    if (this.active && timeoutMs > 0) this.cancel = this.env.setTimer(() => this.close(), timeoutMs);
  }

  protected override onInterrupt(): void {
    this.stopTimers();
  }

  protected override stopTimers(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  override detach(): void {
    this.close();
  }
}

/**
 * reset_peer: on the first chunk (which it drops) waits `timeout` ms and closes; the RST comes
 * from the connection closing with SO_LINGER=0 (reset_peer.go). Go's wait is not interruptible,
 * so a reset already under way completes even if the toxic is removed meanwhile.
 */
export class ResetPeerStage extends Stage {
  private triggered = false;

  protected onData(): void {
    if (this.triggered) return;
    this.triggered = true;
    const target = this.next;
    this.env.setTimer(() => {
      if (this.closed) return;
      this.closed = true;
      target.end();
    }, this.spec.attributes.timeout ?? 0);
  }

  override detach(): void {
    if (!this.triggered) super.detach();
  }

  override update(spec: ToxicSpec): void {
    if (!this.triggered) super.update(spec);
    else this.spec = spec;
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

/** limit_data: forwards up to `bytes` per link (truncating the last chunk), then closes (limit_data.go). */
export class LimitDataStage extends Stage {
  /** Per-link state that survives updates, like Go's StatefulToxic state. */
  transmittedBytes = 0;

  protected onData(chunk: Chunk): void {
    const limit = this.spec.attributes.bytes ?? 0;
    const remaining = Math.max(0, limit - this.transmittedBytes);
    const data = remaining < chunk.data.length ? chunk.data.subarray(0, remaining) : chunk.data;
    if (data.length > 0) {
      this.next.push({ data, timestampMs: chunk.timestampMs });
      this.transmittedBytes += data.length;
    }
    if (limit - this.transmittedBytes <= 0) this.close();
  }
}

export function createStage(spec: ToxicSpec, next: ChunkSink, env: StageEnv): Stage {
  switch (spec.type) {
    case 'noop':
      return new NoopStage(spec, next, env);
    case 'latency':
      return new LatencyStage(spec, next, env);
    case 'bandwidth':
      return new BandwidthStage(spec, next, env);
    case 'slow_close':
      return new SlowCloseStage(spec, next, env);
    case 'timeout':
      return new TimeoutStage(spec, next, env);
    case 'reset_peer':
      return new ResetPeerStage(spec, next, env);
    case 'slicer':
      return new SlicerStage(spec, next, env);
    case 'limit_data':
      return new LimitDataStage(spec, next, env);
  }
}
