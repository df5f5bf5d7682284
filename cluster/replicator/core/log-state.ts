import { invariant } from '../../../core/errors.js';
import type { FenceResult, Lsn, PartitionId } from '../contract.js';
import { staleEpoch } from '../errors.js';
import { NO_FAULTS, type ReplicationFaults } from '../faults.js';
import { appendEpoch, type EpochHistory, epochAt, truncateHistory } from './epoch-history.js';

/** What a replica's log bookkeeping starts from (read back from disk after a restart). */
export type LogStateInit = {
  fencedEpoch: number;
  history: EpochHistory;
  /** First LSN still in the log (everything below was compacted into the state). */
  logStartLsn: Lsn;
  lastPersistedLsn: Lsn;
  appliedLsn: Lsn;
};

export type EntryHeader = { readonly lsn: Lsn; readonly epoch: number };

/**
 * The pure bookkeeping of one replica's log, the same in every role: fencing, the epoch
 * history, which LSNs are appended, persisted, committed and applied. It never does I/O; the
 * driver calls it before and after each disk write and obeys what it returns.
 */
export class ReplicaLogState {
  fencedEpoch: number;
  history: EpochHistory;
  logStartLsn: Lsn;
  /** Highest LSN handed to the disk (persisted or in flight). */
  lastLsn: Lsn;
  persistedLsn: Lsn;
  committedLsn: Lsn;
  appliedLsn: Lsn;

  constructor(
    readonly partition: PartitionId,
    init: LogStateInit,
    private readonly faults: ReplicationFaults = NO_FAULTS,
  ) {
    invariant(init.appliedLsn <= init.lastPersistedLsn, 'applied LSN beyond the log', { ...init });
    this.fencedEpoch = init.fencedEpoch;
    this.history = init.history;
    this.logStartLsn = init.logStartLsn;
    this.lastLsn = init.lastPersistedLsn;
    this.persistedLsn = init.lastPersistedLsn;
    this.committedLsn = init.appliedLsn;
    this.appliedLsn = init.appliedLsn;
  }

  get lastPersistedEpoch(): number {
    return epochAt(this.history, this.persistedLsn);
  }

  get lastEpoch(): number {
    return epochAt(this.history, this.lastLsn);
  }

  /** Would a message of `epoch` be accepted? Throws MF_STALE_EPOCH if fenced off. */
  checkEpoch(epoch: number): void {
    if (epoch < this.fencedEpoch && !this.faults.skipEpochFencing) {
      throw staleEpoch(this.partition, epoch, this.fencedEpoch);
    }
  }

  /** Refuses everything older than `epoch` from now on; reports progress. */
  fence(epoch: number): FenceResult {
    this.checkEpoch(epoch);
    this.fencedEpoch = Math.max(this.fencedEpoch, epoch);
    return {
      partition: this.partition,
      fencedEpoch: this.fencedEpoch,
      lastPersistedEpoch: this.lastPersistedEpoch,
      lastPersistedLsn: this.persistedLsn,
    };
  }

  /** Accepts operations for the log; they must follow the last one with no gap. */
  append(entries: readonly EntryHeader[]): void {
    for (const entry of entries) {
      invariant(entry.lsn === this.lastLsn + 1, 'LSNs in a log are contiguous', {
        partition: this.partition,
        lsn: entry.lsn,
        lastLsn: this.lastLsn,
      });
      invariant(entry.epoch >= this.lastEpoch, 'epochs in a log never go back', {
        partition: this.partition,
        epoch: entry.epoch,
        lastEpoch: this.lastEpoch,
      });
      this.history = appendEpoch(this.history, entry.epoch, entry.lsn);
      this.lastLsn = entry.lsn;
    }
  }

  markPersisted(lsn: Lsn): void {
    invariant(lsn <= this.lastLsn, 'persisted beyond what was appended', { lsn, lastLsn: this.lastLsn });
    this.persistedLsn = Math.max(this.persistedLsn, lsn);
  }

  /**
   * Drops operations above `keepThroughLsn` (false progress of an older epoch). Never cuts
   * into what is applied: applied operations are committed, and committed ones are never
   * false progress; if that ever happened the replica is corrupt and must stop.
   */
  truncateAfter(keepThroughLsn: Lsn): void {
    invariant(keepThroughLsn >= this.appliedLsn, 'truncation would remove applied (committed) operations', {
      partition: this.partition,
      keepThroughLsn,
      appliedLsn: this.appliedLsn,
    });
    if (keepThroughLsn >= this.lastLsn) return;
    this.history = truncateHistory(this.history, keepThroughLsn);
    this.lastLsn = keepThroughLsn;
    this.persistedLsn = Math.min(this.persistedLsn, keepThroughLsn);
    this.committedLsn = Math.min(this.committedLsn, keepThroughLsn);
  }

  /** Learns that everything up to `commitLsn` is committed; returns the new committed LSN. */
  advanceCommit(commitLsn: Lsn): Lsn {
    this.committedLsn = Math.max(this.committedLsn, Math.min(commitLsn, this.persistedLsn));
    return this.committedLsn;
  }

  markApplied(lsn: Lsn): void {
    invariant(lsn <= this.committedLsn, 'applied beyond the commit LSN', {
      lsn,
      committedLsn: this.committedLsn,
    });
    this.appliedLsn = Math.max(this.appliedLsn, lsn);
  }

  /** Replaces everything with a copy of a primary's state at `copyLsn`. */
  resetToCopy(copyLsn: Lsn, history: EpochHistory): void {
    this.history = truncateHistory(history, copyLsn);
    this.logStartLsn = copyLsn + 1;
    this.lastLsn = copyLsn;
    this.persistedLsn = copyLsn;
    this.committedLsn = copyLsn;
    this.appliedLsn = copyLsn;
  }

  /** Forgets everything (a copy is replacing the log and the state on disk). */
  resetEmpty(): void {
    this.resetToCopy(0, []);
  }

  /** Where the log may be cut: below `requestedLsn`, never above what is applied. */
  compactionPoint(requestedLsn: Lsn): Lsn {
    return Math.min(requestedLsn, this.appliedLsn + 1);
  }

  markCompacted(newLogStartLsn: Lsn): void {
    this.logStartLsn = Math.max(this.logStartLsn, newLogStartLsn);
  }
}
