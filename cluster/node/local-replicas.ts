import type { PartitionId, PartitionReplica } from '../replicator/contract.js';

/**
 * What the node needs from the data plane's per-node ReplicaHost: open (creating if needed)
 * this node's replica of a partition, list those open, close all. Kept as a port so the
 * lifecycle driver is testable on its own.
 */
export interface LocalReplicas {
  open(partition: PartitionId): Promise<PartitionReplica>;
  opened(): readonly PartitionReplica[];
  close(): Promise<void>;
}
