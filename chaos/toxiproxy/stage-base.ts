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
export abstract class QueueStage extends Stage {
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
