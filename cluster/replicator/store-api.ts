import type { Lsn, NodeId, PartitionReplica } from './contract.js';

/** A range over the partition's state keys: [gte, lt), optionally reversed and limited. */
export type StateRange = { gte?: string; lt?: string; reverse?: boolean; limit?: number };

/**
 * What services (reliable collections, the actor persistence engine) need beyond the
 * contract: reads of the committed, applied state. Reads are served by the primary only,
 * while its lease is valid, and only after the operations of earlier epochs it took over are
 * committed and applied (so a read never misses a write a client saw acknowledged).
 */
export interface ReplicatedStore extends PartitionReplica {
  get(key: string): Promise<Uint8Array | undefined>;
  scan(range: StateRange): Promise<Array<[string, Uint8Array]>>;
}

/** The primary's view of one secondary (for status and for promoting built replicas). */
export type SecondaryProgress = {
  node: NodeId;
  connected: boolean;
  persistedLsn: Lsn;
  /** Building by copy, not yet streaming the log. */
  copying: boolean;
  /** Persisted everything committed when last heard from: may count toward the quorum. */
  caughtUp: boolean;
};
