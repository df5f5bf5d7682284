import type { Clock } from '../../core/clock.js';
import { invariant } from '../../core/errors.js';

/**
 * Pure: when `up` restarts a node process that exited on its own (crash, OOM, `kill -9`), as
 * Service Fabric's host restarts a failed node. Decisions only; node-supervisor.ts does the
 * processes and timers. One policy per node id.
 *
 * - Backoff: the n-th restart within the window waits `initialBackoffMs * 2^(n-1)`, capped at
 *   `maxBackoffMs` (0.5, 1, 2, 4, 8 s by default), so a node that crashes at start does not
 *   spin, while one that died once after a long run comes back at once.
 * - Bound: at most `maxRestarts` restarts in any `windowMs` (sliding); the exit after that is
 *   given up on for good (a node that keeps dying needs a person: its log says why).
 * - Stopping: once `up` stops (Ctrl-C, SIGTERM, the demo failed), no exit is restarted.
 */
export type RestartPolicyOptions = {
  /** Restarts allowed within `windowMs`; 0 never restarts (`up --no-restart`). */
  maxRestarts: number;
  windowMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
};

export const defaultRestartPolicy: RestartPolicyOptions = {
  maxRestarts: 5,
  windowMs: 10 * 60_000,
  initialBackoffMs: 500,
  maxBackoffMs: 8_000,
};

/** Most restarts `up --max-node-restarts` accepts (the kept instants are bounded by it). */
export const maxRestartsLimit = 100;

export type RestartDecision =
  /** Start the node again after `delayMs`; this is restart `restart` of `maxRestarts` in the window. */
  | { action: 'restart'; delayMs: number; restart: number; maxRestarts: number }
  /** Past the bound: `restarts` restarts already within `windowMs`; the node stays down. */
  | { action: 'give-up'; restarts: number; windowMs: number }
  /** Restarting is off (`maxRestarts` 0). */
  | { action: 'disabled' }
  /** `up` is stopping: the exit was expected. */
  | { action: 'stopping' };

export class RestartPolicy {
  /** Instants of the restarts still inside the window, oldest first; at most maxRestarts. */
  private readonly restartsAtMs: number[] = [];
  private stoppingNow = false;
  private givenUp = false;

  constructor(
    private readonly options: RestartPolicyOptions,
    private readonly clock: Clock,
  ) {
    invariant(
      Number.isInteger(options.maxRestarts) &&
        options.maxRestarts >= 0 &&
        options.maxRestarts <= maxRestartsLimit,
      `maxRestarts must be an integer from 0 to ${maxRestartsLimit}`,
      { maxRestarts: options.maxRestarts },
    );
    invariant(options.windowMs > 0 && options.initialBackoffMs > 0, 'window and backoff must be positive');
    invariant(options.maxBackoffMs >= options.initialBackoffMs, 'maxBackoffMs below initialBackoffMs');
  }

  /** `up` is stopping: every later exit is expected, and a restart not yet begun must not begin. */
  stop(): void {
    this.stoppingNow = true;
  }

  get stopping(): boolean {
    return this.stoppingNow;
  }

  /** The node's process exited (or its restart could not begin): what to do now. */
  exited(): RestartDecision {
    if (this.stoppingNow) return { action: 'stopping' };
    if (this.options.maxRestarts === 0) return { action: 'disabled' };
    const nowMs = this.clock.now();
    while (this.restartsAtMs.length > 0 && this.restartsAtMs[0]! <= nowMs - this.options.windowMs)
      this.restartsAtMs.shift();
    if (this.givenUp || this.restartsAtMs.length >= this.options.maxRestarts) {
      this.givenUp = true;
      return { action: 'give-up', restarts: this.restartsAtMs.length, windowMs: this.options.windowMs };
    }
    this.restartsAtMs.push(nowMs);
    const restart = this.restartsAtMs.length;
    const delayMs = Math.min(this.options.maxBackoffMs, this.options.initialBackoffMs * 2 ** (restart - 1));
    return { action: 'restart', delayMs, restart, maxRestarts: this.options.maxRestarts };
  }
}
