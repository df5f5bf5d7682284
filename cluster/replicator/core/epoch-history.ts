import { invariant } from '../../../core/errors.js';
import type { Lsn } from '../contract.js';

/**
 * A replica's epoch history: where each epoch's operations start in its log. Every LSN of
 * one epoch was assigned by exactly one primary, so two logs that hold the same (epoch, LSN)
 * hold the same operation there and agree on everything before it (Raft's log matching).
 * That is what lets a new primary find the point where a secondary's log diverged.
 */
export type EpochSegment = { readonly epoch: number; readonly firstLsn: Lsn };
export type EpochHistory = readonly EpochSegment[];

/** The epoch of the operation at `lsn` (0 for LSN 0 or an LSN before the history starts). */
export function epochAt(history: EpochHistory, lsn: Lsn): number {
  let epoch = 0;
  for (const segment of history) {
    if (segment.firstLsn > lsn) break;
    epoch = segment.epoch;
  }
  return lsn === 0 ? 0 : epoch;
}

/** First LSN of the segment holding `lsn` (1 when the history does not cover it). */
function segmentStart(history: EpochHistory, lsn: Lsn): Lsn {
  let start = 1;
  for (const segment of history) {
    if (segment.firstLsn > lsn) break;
    start = segment.firstLsn;
  }
  return start;
}

/** Records that operations of `epoch` start at `firstLsn` (no-op if that epoch is already last). */
export function appendEpoch(history: EpochHistory, epoch: number, firstLsn: Lsn): EpochSegment[] {
  const last = history[history.length - 1];
  if (last && last.epoch === epoch) return [...history];
  invariant(!last || epoch > last.epoch, 'epochs in a log only increase', { epoch, last });
  invariant(!last || firstLsn >= last.firstLsn, 'epoch segments start in LSN order', { firstLsn, last });
  // A segment that would hold no operation (the next one starts at the same LSN) is replaced.
  const kept = last && last.firstLsn === firstLsn ? history.slice(0, -1) : [...history];
  kept.push({ epoch, firstLsn });
  return kept;
}

/** The history of a log cut after `keepThroughLsn`. */
export function truncateHistory(history: EpochHistory, keepThroughLsn: Lsn): EpochSegment[] {
  return history.filter((s) => s.firstLsn <= keepThroughLsn);
}

export type LogShape = { history: EpochHistory; lastLsn: Lsn };

/**
 * The highest LSN up to which two logs hold the same operations. Walks down from the shorter
 * log's end: where the epochs at L differ, the whole segment of the higher epoch down to its
 * start cannot match (the other log's epochs there are all lower), so jump below it.
 */
export function agreementLsn(a: LogShape, b: LogShape): Lsn {
  let lsn = Math.min(a.lastLsn, b.lastLsn);
  while (lsn > 0) {
    const epochA = epochAt(a.history, lsn);
    const epochB = epochAt(b.history, lsn);
    if (epochA === epochB) return lsn;
    lsn = (epochA > epochB ? segmentStart(a.history, lsn) : segmentStart(b.history, lsn)) - 1;
  }
  return 0;
}

/** Orders replicas by progress: higher (epoch of last operation, last LSN) is ahead. */
export function compareProgress(
  a: { lastPersistedEpoch: number; lastPersistedLsn: Lsn },
  b: { lastPersistedEpoch: number; lastPersistedLsn: Lsn },
): number {
  return a.lastPersistedEpoch - b.lastPersistedEpoch || a.lastPersistedLsn - b.lastPersistedLsn;
}

/** Whether appending changed the history (a new epoch segment started). */
export function historyChanged(before: EpochHistory, after: EpochHistory): boolean {
  const a = before[before.length - 1];
  const b = after[after.length - 1];
  return before.length !== after.length || a?.epoch !== b?.epoch || a?.firstLsn !== b?.firstLsn;
}
