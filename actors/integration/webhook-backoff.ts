/**
 * Retry delays for webhook deliveries: exponential backoff with "equal jitter" (half the
 * delay fixed, half random) so that many subscribers failing together do not retry in lock
 * step, while a single one still backs off predictably. Pure: the caller injects `random`.
 */

export type BackoffPolicy = {
  /** Delay before the first retry, before jitter. */
  initialDelayMs: number;
  /** Upper bound of any delay: a receiver that is down for hours is still probed this often. */
  maxDelayMs: number;
};

export const defaultBackoff: BackoffPolicy = { initialDelayMs: 500, maxDelayMs: 60_000 };

/** Delay before retry number `attempt` (1 = first retry); within [d/2, d], d = min(max, initial·2^(attempt-1)). */
export function retryDelayMs(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + r * (ceiling / 2));
}
