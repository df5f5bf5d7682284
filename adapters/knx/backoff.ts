/**
 * Reconnection backoff: exponential with a cap and full jitter, longer when the gateway says
 * it has no free tunnel (hammering a full gateway is what gets clients evicted, reference §3).
 */
export type BackoffPolicy = { baseDelayMs: number; maxDelayMs: number; noMoreConnectionsFactor: number };

export const defaultBackoff: BackoffPolicy = {
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  noMoreConnectionsFactor: 4,
};

export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  gatewayFull = false,
  random: () => number = Math.random,
): number {
  const base = policy.baseDelayMs * (gatewayFull ? policy.noMoreConnectionsFactor : 1);
  const ceiling = Math.min(policy.maxDelayMs, base * 2 ** Math.min(attempt, 20));
  // Half fixed, half jitter: never zero, and clients that lost the same gateway spread out.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
