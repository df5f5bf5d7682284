import * as grpc from '@grpc/grpc-js';
import type { ReplicaRpc } from '../failover/failover-manager.js';
import type { FenceResult, NodeId, PartitionId, ReplicaRole, ReplicaStatus } from '../replicator/contract.js';
import { callUnary, channelOptions, NodeService } from './grpc-contracts.js';

/** Wire shape of ReplicaStatus (proto-loader camelCase, uint64 as number). */
export type WireReplicaStatus = {
  partition: string;
  role: string;
  epoch: number;
  lastPersistedLsn: number;
  committedLsn: number;
  appliedLsn: number;
  lastPersistedEpoch: number;
};

export function toWireStatus(s: ReplicaStatus): WireReplicaStatus {
  return { ...s };
}

const roles = new Set<ReplicaRole>(['none', 'primary', 'active-secondary', 'idle-secondary']);

export function fromWireStatus(s: WireReplicaStatus): ReplicaStatus {
  return { ...s, role: roles.has(s.role as ReplicaRole) ? (s.role as ReplicaRole) : 'none' };
}

/**
 * gRPC clients to the other nodes, one per node, dialled at the node's advertised address
 * unless a per-peer override routes it elsewhere (a chaos proxy). A client is replaced when
 * the address changes (a node restarted on another port).
 */
export class PeerClients implements ReplicaRpc {
  private readonly clients = new Map<NodeId, { address: string; client: grpc.Client }>();

  constructor(
    private readonly addressOf: (node: NodeId) => string | undefined,
    private readonly overrides: Readonly<Record<NodeId, string>>,
    private readonly token?: string,
  ) {}

  dialAddress(node: NodeId): string | undefined {
    return this.overrides[node] ?? this.addressOf(node);
  }

  client(node: NodeId): grpc.Client {
    const address = this.dialAddress(node);
    if (!address) throw new Error(`node ${node} has no known address (not a live member)`);
    const existing = this.clients.get(node);
    if (existing && existing.address === address) return existing.client;
    existing?.client.close();
    const client = new NodeService(address, grpc.credentials.createInsecure(), channelOptions);
    this.clients.set(node, { address, client });
    return client;
  }

  async fence(node: NodeId, partition: PartitionId, epoch: number, timeoutMs: number): Promise<FenceResult> {
    const reply = await callUnary<{
      partition: string;
      fencedEpoch: number;
      lastPersistedEpoch: number;
      lastPersistedLsn: number;
    }>(this.client(node), 'Fence', { partition, epoch }, timeoutMs, this.token);
    return reply;
  }

  async statuses(node: NodeId, timeoutMs: number): Promise<ReplicaStatus[]> {
    const reply = await callUnary<{ nodeId: string; replicas: WireReplicaStatus[] }>(
      this.client(node),
      'ReplicaStatuses',
      {},
      timeoutMs,
      this.token,
    );
    return reply.replicas.map(fromWireStatus);
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}
