import { invariant } from '../../../core/errors.js';
import type { Lsn, NodeId, PartitionId } from '../contract.js';
import { ReplicationError } from '../errors.js';
import { majorityPersistedLsn } from './quorum.js';

export type PrimaryCoreOptions = {
  partition: PartitionId;
  epoch: number;
  self: NodeId;
  /** The replicas whose persistence counts toward the write quorum (the primary included). */
  voters: readonly NodeId[];
  /** Last LSN in the primary's log when it took over; its epoch barrier goes right after. */
  lastLsn: Lsn;
  committedLsn: Lsn;
  /** Upper bound on operations proposed but not yet committed. */
  maxQueueOps: number;
};

/**
 * The primary's decisions: which LSN an operation gets, and which LSN is committed given who
 * has persisted what. Commit = the highest LSN a majority of the voters persisted, and only
 * from this epoch's barrier on: an operation of an older epoch held by a majority may still
 * be overwritten by a replica with a higher-epoch log (Raft's "figure 8"), so older
 * operations commit only together with the barrier that follows them.
 */
export class PrimaryCore {
  readonly epoch: number;
  readonly epochStartLsn: Lsn;
  private lastLsnValue: Lsn;
  private commitLsnValue: Lsn;
  private voters: Set<NodeId>;
  private readonly persisted = new Map<NodeId, Lsn>();

  constructor(private readonly options: PrimaryCoreOptions) {
    invariant(options.voters.includes(options.self), 'the primary is one of the voters', { ...options });
    invariant(options.maxQueueOps > 0, 'replication queue bound must be positive');
    this.epoch = options.epoch;
    this.lastLsnValue = options.lastLsn;
    this.commitLsnValue = options.committedLsn;
    this.epochStartLsn = options.lastLsn + 1;
    this.voters = new Set(options.voters);
  }

  get lastLsn(): Lsn {
    return this.lastLsnValue;
  }

  get commitLsn(): Lsn {
    return this.commitLsnValue;
  }

  /** Operations proposed and not yet committed. */
  get queuedOps(): number {
    return this.lastLsnValue - this.commitLsnValue;
  }

  get voterCount(): number {
    return this.voters.size;
  }

  isVoter(node: NodeId): boolean {
    return this.voters.has(node);
  }

  persistedBy(node: NodeId): Lsn {
    return this.persisted.get(node) ?? 0;
  }

  /** Gives the next operation its LSN, or refuses when the queue is at its bound. */
  propose(): { lsn: Lsn; epoch: number } {
    if (this.queuedOps >= this.options.maxQueueOps) {
      throw new ReplicationError(
        'MF_REPLICATION_QUEUE_FULL',
        `replication queue of ${this.options.partition} holds ${this.queuedOps} uncommitted operations (limit ${this.options.maxQueueOps}); retry later`,
        { partition: this.options.partition, queuedOps: this.queuedOps },
      );
    }
    this.lastLsnValue += 1;
    return { lsn: this.lastLsnValue, epoch: this.epoch };
  }

  /** Records that `node` has persisted everything up to `lsn`; returns the new commit LSN if it moved. */
  onPersisted(node: NodeId, lsn: Lsn): Lsn | null {
    const clamped = Math.min(lsn, this.lastLsnValue);
    if (clamped > (this.persisted.get(node) ?? 0)) this.persisted.set(node, clamped);
    return this.recompute();
  }

  /** A replica left the set or must re-sync: forget what it had persisted. */
  forget(node: NodeId): void {
    this.persisted.delete(node);
  }

  setVoters(voters: readonly NodeId[]): Lsn | null {
    invariant(voters.includes(this.options.self), 'the primary is one of the voters');
    this.voters = new Set(voters);
    return this.recompute();
  }

  private recompute(): Lsn | null {
    const lsns: Lsn[] = [];
    for (const node of this.voters) lsns.push(this.persisted.get(node) ?? 0);
    const candidate = majorityPersistedLsn(lsns, this.voters.size);
    if (candidate < this.epochStartLsn || candidate <= this.commitLsnValue) return null;
    this.commitLsnValue = candidate;
    return candidate;
  }

  /** The log may be compacted below the lowest LSN every replica of the set persisted. */
  compactableBelow(replicas: readonly NodeId[]): Lsn {
    let lowest = this.commitLsnValue;
    for (const node of replicas) lowest = Math.min(lowest, this.persisted.get(node) ?? 0);
    return lowest + 1;
  }
}
