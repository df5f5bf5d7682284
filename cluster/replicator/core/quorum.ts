import type { Lsn } from '../contract.js';

/** Replicas that must have persisted an operation for it to be committed. */
export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest LSN persisted by a majority of `voterCount` voters, given the persisted LSNs
 * known for some of them (voters not listed count as having persisted nothing).
 */
export function majorityPersistedLsn(persistedLsns: readonly Lsn[], voterCount: number): Lsn {
  const needed = quorumSize(voterCount);
  if (persistedLsns.length < needed) return 0;
  const sorted = [...persistedLsns].sort((x, y) => y - x);
  return sorted[needed - 1] ?? 0;
}
