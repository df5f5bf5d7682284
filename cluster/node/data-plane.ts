import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { PartitionActorStore } from '../actors/actor-host.js';
import { ReplicatedPersistenceEngine } from '../actors/replicated-persistence-engine.js';
import { ReplicatedReminderStore } from '../actors/replicated-reminder-store.js';
import type { NodeConfig } from '../config/node-config.js';
import { FormatGatedEngine } from '../format/store-format.js';
import type { NodeId, PartitionId, PartitionReplica } from '../replicator/contract.js';
import { ReplicaHost } from '../replicator/host.js';
import { registerReplicatorMetrics } from '../replicator/metrics.js';
import type { ReplicatedStore } from '../replicator/store-api.js';
import type { LocalReplicas } from './local-replicas.js';

/**
 * The one place the node meets the data plane (cluster/replicator): opens the node's
 * ReplicaHost on its data directory and gRPC server, and the per-partition stores the actor
 * host needs. Everything else in the control plane sees only the contract.
 */
export type DataPlaneOptions = {
  config: NodeConfig;
  server: grpc.Server;
  clock: Clock;
  logger: Logger;
  addressOf: (node: NodeId) => string | undefined;
  /** The node's Prometheus registry: replica progress and group-commit counters go there. */
  metrics?: Registry;
};

export type NodeDataPlane = LocalReplicas & {
  actorStore(partition: PartitionId): Promise<PartitionActorStore>;
};

export async function openLocalReplicas(options: DataPlaneOptions): Promise<NodeDataPlane> {
  const host = await ReplicaHost.open({
    nodeId: options.config.nodeId,
    dataDir: join(options.config.dataDir, 'replicas'),
    server: options.server,
    clock: options.clock,
    logger: options.logger,
    // The same shared secret guards replication streams and ReplicaControl as the node's own services.
    ...(options.config.clusterToken ? { clusterToken: options.config.clusterToken } : {}),
  });
  if (options.metrics) registerReplicatorMetrics(options.metrics, host);
  const opened = new Map<PartitionId, ReplicatedStore>();
  const open = async (partition: PartitionId): Promise<ReplicatedStore> => {
    const replica = await host.replica(partition);
    opened.set(partition, replica);
    return replica;
  };
  return {
    open: (partition) => open(partition) as Promise<PartitionReplica>,
    opened: () => [...opened.values()],
    async actorStore(partition) {
      const store = await open(partition);
      return {
        // Refuses a store marked above this build's format; raises the mark before a newer form.
        engine: new FormatGatedEngine(
          new ReplicatedPersistenceEngine(store),
          store,
          partition,
          options.logger,
        ),
        reminders: new ReplicatedReminderStore(store),
      };
    },
    close: () => host.close(),
  };
}
