/** The toxics that drop data or close the link: timeout, reset_peer, limit_data. */
import { type CancelTimer, type Chunk, type ChunkSink, Stage, type StageEnv } from './stage-base.js';
import type { ToxicSpec } from './toxic-types.js';

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
