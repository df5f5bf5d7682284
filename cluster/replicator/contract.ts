/**
 * The contract between the data plane (replicator + storage: one PartitionReplica per
 * partition a node hosts) and the control plane (membership, failover manager, node
 * process, actor hosting). Both sides code against these types; change them deliberately.
 *
 * Vocabulary is Service Fabric's: a service has partitions; a partition has a replica set of
 * one primary and secondaries; an epoch numbers the configuration that made a primary.
 */

/** `<service>/<index>`, e.g. `device/17`, `jobs-manager/0`, `worker/meter-reading`. */
export type PartitionId = string;
export type NodeId = string;
/** Log sequence numbers start at 1; 0 means "nothing". */
export type Lsn = number;

/** The configuration the failover manager writes to etcd for one partition. */
export type PartitionConfiguration = {
  partition: PartitionId;
  /** Increases by one at every reconfiguration; never goes back. */
  epoch: number;
  /** Node of the primary; null while the partition has none (quorum loss, building). */
  primary: NodeId | null;
  /** Every replica of the set, the primary included, on distinct nodes. */
  replicas: NodeId[];
  /** Replicas being built (copying state); they do not count toward the write quorum yet. */
  building: NodeId[];
  status: 'ok' | 'reconfiguring' | 'quorum-loss';
  /**
   * Why a `quorum-loss` configuration waits (too few old replicas answered, or fewer live
   * replicas than the service's minimum replica-set size): shown by `meterfabric status`.
   * Absent on older records and on `ok` configurations.
   */
  reason?: string;
  /** Highest LSN of the previous epoch that the new primary kept (false progress above it is truncated). */
  previousEpochLastLsn: Lsn;
};

export type ReplicaRole = 'none' | 'primary' | 'active-secondary' | 'idle-secondary';

export type ReplicaStatus = {
  partition: PartitionId;
  role: ReplicaRole;
  epoch: number;
  /** Highest LSN written to this replica's log with sync: true. */
  lastPersistedLsn: Lsn;
  /** Highest LSN known committed (persisted by a majority). */
  committedLsn: Lsn;
  /** Highest LSN applied to the state store. */
  appliedLsn: Lsn;
  /** Epoch of the last persisted operation: a replica with a higher (epoch, LSN) has more progress. */
  lastPersistedEpoch: number;
};

export type FenceResult = {
  partition: PartitionId;
  /** The epoch this replica now refuses anything older than. */
  fencedEpoch: number;
  lastPersistedEpoch: number;
  lastPersistedLsn: Lsn;
};

/** Where to reach a node's gRPC server. */
export type NodeAddressBook = (node: NodeId) => string | undefined;

/** Errors the data plane raises; codes are stable and mapped to gRPC statuses at the edge. */
export type ReplicationErrorCode =
  | 'MF_NOT_PRIMARY' // this replica is not (or no longer) the primary of the partition
  | 'MF_STALE_EPOCH' // a message of an older epoch was refused (fencing)
  | 'MF_NO_WRITE_QUORUM' // fewer than a majority of the replica set persisted in time; outcome unknown
  | 'MF_QUORUM_LOSS' // the partition has lost quorum; writes are refused until it recovers
  | 'MF_REPLICATION_QUEUE_FULL' // back-pressure: retry later
  | 'MF_LEASE_EXPIRED'; // the node's membership lease is not valid; it has stepped down

/**
 * One partition's replica on this node. The control plane calls the lifecycle methods; the
 * services (reliable collections, actor persistence) call replicate() and read the state.
 */
export interface PartitionReplica {
  readonly partition: PartitionId;
  status(): ReplicaStatus;

  /**
   * Refuse every operation of an epoch below `epoch` from now on and report this replica's
   * progress. Idempotent; a lower epoch than one already fenced is refused (MF_STALE_EPOCH).
   */
  fence(epoch: number): Promise<FenceResult>;

  /**
   * Become primary of `config.epoch`: truncate own operations above
   * `config.previousEpochLastLsn` that belong to older epochs, then stream to every other
   * replica in `config.replicas`, building those in `config.building` (or any that lag
   * behind the log) by copy. Resolves once the primary accepts writes.
   */
  becomePrimary(config: PartitionConfiguration, addresses: NodeAddressBook): Promise<void>;

  /** Become (or stay) a secondary of `config.epoch`, accepting the stream of `config.primary`. */
  becomeSecondary(config: PartitionConfiguration): Promise<void>;

  /** Stop acting in any role (node drained or replica dropped); keeps data on disk. */
  demote(): Promise<void>;

  /**
   * Primary only: replicate one transaction (its operations apply atomically, in order) and
   * resolve with its LSN once a majority of the replica set has persisted it and the primary
   * has applied it. Rejects with a ReplicationErrorCode otherwise.
   */
  replicate(operations: readonly Uint8Array[]): Promise<Lsn>;

  /**
   * Node-level self-fencing: the membership lease is valid until this instant (ms since
   * epoch, from the injected clock). After it the primary refuses reads and writes with
   * MF_LEASE_EXPIRED until a later instant is set.
   */
  setLeaseValidUntil(validUntilMs: number): void;

  close(): Promise<void>;
}
