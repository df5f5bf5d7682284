import type { JobsManagerState } from './state.js';

// How long and how many finished jobs the jobs manager remembers, to ignore resubmitted duplicates.

/**
 * Forgets outcomes older than the retention period, from the oldest; at most every
 * retention/16 so that a tick does not move the order array each time one outcome expires
 * (an outcome may be remembered up to 1/16 longer, never shorter).
 */
export function pruneOutcomes(state: JobsManagerState, nowMs: number): void {
  const retentionMs = state.config.outcomeRetentionMs;
  const last = state.outcomesPrunedAtMs;
  if (last !== undefined && nowMs - last < Math.max(1, Math.floor(retentionMs / 16))) return;
  state.outcomesPrunedAtMs = nowMs;
  const order = state.outcomeOrder;
  let expired = 0;
  for (; expired < order.length; expired++) {
    const jobId = order[expired] as string;
    const outcome = state.outcomes[jobId];
    if (outcome && nowMs - outcome.finishedAtMs <= retentionMs) break;
    delete state.outcomes[jobId];
  }
  if (expired > 0) order.splice(0, expired);
}

/** Over the cap, the oldest 1/16 go at once: the order array moves once per many outcomes. */
export function forgetOldestOutcomesOverCap(state: JobsManagerState): void {
  const max = state.config.maxRememberedOutcomes;
  const order = state.outcomeOrder;
  if (order.length <= max) return;
  const drop = Math.min(order.length, order.length - max + Math.floor(max / 16));
  for (let i = 0; i < drop; i++) delete state.outcomes[order[i] as string];
  order.splice(0, drop);
}
