import type * as grpc from '@grpc/grpc-js';
import { MeterfabricError } from '../../core/errors.js';
import type { ActorHost } from '../actors/actor-host.js';
import type { ServiceSpec } from '../config/manifest.js';
import { actorCallStreamHandler } from './actor-call-stream.js';
import type { NodeDataPlane } from './data-plane.js';
import type { DrainOutcome } from './drain.js';
import { AdminService, NodeService, unary } from './grpc-contracts.js';
import { toWireStatus } from './peers.js';
import type { ReplicaLifecycle } from './replica-lifecycle.js';

/**
 * The node's gRPC surface: `protos/node.proto` (Fence, ReplicaStatuses, CallActor, CallActors: what
 * peers and routers call) and `protos/admin.proto` (Status, Drain: what operators call),
 * every method behind the cluster token when one is configured. The running node's parts
 * are handed in; this module only maps requests onto them.
 */
/** A CallActor request as the wire carries it: what ActorHost.call serves. */
export type ActorCallWire = Parameters<ActorHost['call']>[0];

export type NodeRpcDeps = {
  nodeId: string;
  services: readonly ServiceSpec[];
  token: string | undefined;
  lifecycle: ReplicaLifecycle;
  replicas: NodeDataPlane;
  actors: ActorHost;
  /** The node's own view for Admin.Status. */
  status(): {
    address: string;
    failoverManager: boolean;
    leaseValidUntilMs: number;
    draining: boolean;
    metricsAddress: string;
  };
  /** Moves this node's primaries elsewhere; resolves with how many it had and why it stopped. */
  drain(): Promise<DrainOutcome>;
  /** Stops the node without another drain and exits the process (Drain with `exit`). */
  exitAfterDrain(): void;
};

export function registerNodeServices(server: grpc.Server, deps: NodeRpcDeps): void {
  const { lifecycle, replicas, actors, token } = deps;
  server.addService(NodeService.service, {
    Fence: unary(async (req: { partition: string; epoch: number }) => {
      assertKnownPartition(deps.services, req.partition);
      return lifecycle.fence(req.partition, req.epoch);
    }, token),
    ReplicaStatuses: unary(
      async () => ({
        nodeId: deps.nodeId,
        replicas: replicas.opened().map((r) => toWireStatus(r.status())),
      }),
      token,
    ),
    CallActor: unary(async (req: ActorCallWire) => {
      const result = await actors.call(req);
      return { result };
    }, token),
    CallActors: actorCallStreamHandler(actors, token),
  });
  server.addService(AdminService.service, {
    Status: unary(
      async () => ({
        nodeId: deps.nodeId,
        ...deps.status(),
        replicas: replicas.opened().map((r) => toWireStatus(r.status())),
      }),
      token,
    ),
    Drain: unary(async (req: { exit: boolean }) => {
      const { primaries, end } = await deps.drain();
      if (end === 'not-marked') {
        throw new MeterfabricError(
          'MF_DRAIN_NOT_MARKED',
          `node ${deps.nodeId} could not mark itself draining in etcd, so no primary moved; check that etcd answers (meterfabric status), then drain again`,
        );
      }
      if (req.exit) setTimeout(() => deps.exitAfterDrain(), 50);
      return { primariesMoved: primaries };
    }, token),
  });
}

function assertKnownPartition(services: readonly ServiceSpec[], partition: string): void {
  const service = partition.slice(0, partition.indexOf('/'));
  if (!services.some((s) => s.name === service)) {
    throw new MeterfabricError(
      'MF_UNKNOWN_PARTITION',
      `partition ${partition} belongs to no service in this node's manifests`,
    );
  }
}
