/**
 * Routing flow control (KNX 03.08.05 §2.3.5 as implemented by xknx and Calimero; reference
 * §1.6) and the send rate limit, as a pure state machine over an injected time.
 *
 * On ROUTING_BUSY: stop sending for wait_time (keeping the longest wait still running); count
 * busy frames at least 10 ms apart in N; resume after wait_time + rand(0..1) x N x 50 ms; keep N
 * for another N x 100 ms, then decrement it every 5 ms. Independently, at most
 * `maxPerSecond` indications are sent per second.
 */
export type RoutingFlowOptions = { maxPerSecond?: number; random?: () => number };

export class RoutingFlowControl {
  private pausedUntilMs = 0;
  private busyCount = 0;
  private lastBusyCountedMs = Number.NEGATIVE_INFINITY;
  private decayStartMs = Number.POSITIVE_INFINITY;
  private nextSendMs = 0;
  private readonly intervalMs: number;
  private readonly random: () => number;

  constructor(options: RoutingFlowOptions = {}) {
    this.intervalMs = 1000 / (options.maxPerSecond ?? 50);
    this.random = options.random ?? Math.random;
  }

  get busyCounter(): number {
    return this.busyCount;
  }

  onBusy(waitTimeMs: number, nowMs: number): void {
    this.decay(nowMs);
    if (nowMs - this.lastBusyCountedMs >= 10) {
      this.busyCount++;
      this.lastBusyCountedMs = nowMs;
    }
    const resumeMs = nowMs + waitTimeMs + this.random() * this.busyCount * 50;
    this.pausedUntilMs = Math.max(this.pausedUntilMs, nowMs + waitTimeMs, resumeMs);
    this.decayStartMs = this.pausedUntilMs + this.busyCount * 100;
  }

  private decay(nowMs: number): void {
    if (this.busyCount === 0 || nowMs < this.decayStartMs) return;
    const steps = Math.floor((nowMs - this.decayStartMs) / 5);
    if (steps <= 0) return;
    this.busyCount = Math.max(0, this.busyCount - steps);
    this.decayStartMs += steps * 5;
  }

  /** The earliest time the next indication may be sent. */
  nextSendAtMs(nowMs: number): number {
    this.decay(nowMs);
    return Math.max(nowMs, this.pausedUntilMs, this.nextSendMs);
  }

  /** Records a send at `nowMs` (call only when nextSendAtMs(now) <= now). */
  sent(nowMs: number): void {
    this.nextSendMs = nowMs + this.intervalMs;
  }
}
