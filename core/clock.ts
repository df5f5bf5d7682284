/**
 * Injected time. Pure state machines take a Clock so tests (and the day-in-a-minute
 * simulation) control time; production uses systemClock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock moved by hand: for unit tests of timers, leases and schedules. */
export class ManualClock implements Clock {
  constructor(private currentMs = 0) {}
  now(): number {
    return this.currentMs;
  }
  advance(ms: number): void {
    if (ms < 0) throw new Error('ManualClock cannot go backwards');
    this.currentMs += ms;
  }
  set(ms: number): void {
    this.currentMs = ms;
  }
}
