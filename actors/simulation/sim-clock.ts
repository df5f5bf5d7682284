import type { Clock } from '../../core/clock.js';

/**
 * Simulated time for the demo: it starts at `startMs` and runs `speed` times faster than the
 * host clock (1440 runs a day in a minute). Reading it does no I/O beyond the host clock.
 */
export class SimulatedClock implements Clock {
  private readonly hostStartMs: number;

  constructor(
    private readonly startMs: number,
    readonly speed: number,
    private readonly host: Clock = { now: () => Date.now() },
  ) {
    if (!(speed > 0)) throw new Error('SimulatedClock speed must be positive');
    this.hostStartMs = host.now();
  }

  now(): number {
    return this.startMs + Math.floor((this.host.now() - this.hostStartMs) * this.speed);
  }

  /** Host milliseconds until simulated instant `simMs` (0 if already past). */
  hostDelayUntil(simMs: number): number {
    return Math.max(0, Math.ceil((simMs - this.now()) / this.speed));
  }
}
