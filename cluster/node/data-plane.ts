import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../core/clock.js';
import { MeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { PartitionActorStore } from '../actors/actor-host.js';
import type { NodeConfig } from '../config/node-config.js';
import type { NodeId, PartitionId, PartitionReplica } from '../replicator/contract.js';
import type { LocalReplicas } from './local-replicas.js';

/**
 * The one place the node meets the data plane (cluster/replicator, storage): opens the
 * node's ReplicaHost on its data directory and gRPC server, and the per-partition stores the
 * actor host needs. Everything else in the control plane sees only the contract.
 */
export type DataPlaneOptions = {
  config: NodeConfig;
  server: grpc.Server;
  clock: Clock;
  logger: Logger;
  addressOf: (node: NodeId) => string | undefined;
};

export type NodeDataPlane = LocalReplicas & {
  actorStore(partition: PartitionId): Promise<PartitionActorStore>;
};

export async function openLocalReplicas(_options: DataPlaneOptions): Promise<NodeDataPlane> {
  throw new MeterfabricError(
    'MF_DATA_PLANE_MISSING',
    'the replica host (cluster/replicator) is not available in this build',
  );
}

export type { PartitionReplica };
