import * as grpc from '@grpc/grpc-js';
import { isMeterfabricError, MeterfabricError } from '../../../core/errors.js';
import type { FenceResult, PartitionId, ReplicaRole, ReplicaStatus } from '../contract.js';
import { grpcStatusOf, isReplicationErrorCode, ReplicationError } from '../errors.js';
import { tokenAccepted, tokenMetadata, unauthenticated } from './cluster-token.js';
import { validPartitionId } from './replication-service.js';
import { NODE_LINK_OPTIONS, replicatorProto } from './wire.js';

/** What the ReplicaControl service serves: the node's ReplicaHost. */
export interface ReplicaControlTarget {
  fence(partition: PartitionId, epoch: number): Promise<FenceResult>;
  status(partition: PartitionId): Promise<ReplicaStatus>;
  statuses(): Promise<ReplicaStatus[]>;
}

const CODE_METADATA_KEY = 'mf-code';

function toServiceError(err: unknown): grpc.ServiceError {
  const code = isMeterfabricError(err) ? err.code : 'MF_INTERNAL';
  const metadata = new grpc.Metadata();
  metadata.set(CODE_METADATA_KEY, code);
  return Object.assign(new Error(err instanceof Error ? err.message : String(err)), {
    code: isReplicationErrorCode(code) ? grpcStatusOf(code) : grpc.status.INTERNAL,
    details: err instanceof Error ? err.message : String(err),
    metadata,
  });
}

function fromServiceError(err: grpc.ServiceError): Error {
  if (err.code === grpc.status.UNAUTHENTICATED) {
    return new MeterfabricError('MF_UNAUTHENTICATED', err.details);
  }
  const code = err.metadata?.get(CODE_METADATA_KEY)[0];
  if (typeof code === 'string' && isReplicationErrorCode(code))
    return new ReplicationError(code, err.details);
  return err;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

function unary<Req, Res>(
  clusterToken: string | undefined,
  body: (request: Req) => Promise<Res>,
): Unary<Req, Res> {
  return (call, callback) => {
    if (!tokenAccepted(clusterToken, call.metadata)) {
      callback(unauthenticated());
      return;
    }
    body(call.request).then(
      (result) => callback(null, result),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

function checkPartition(partition: string): void {
  if (!validPartitionId(partition)) {
    throw new ReplicationError('MF_NOT_PRIMARY', `invalid partition id "${partition}"`);
  }
}

export function controlHandlers(
  target: ReplicaControlTarget,
  clusterToken?: string,
): grpc.UntypedServiceImplementation {
  return {
    Fence: unary<{ partition: string; epoch: number }, FenceResult>(
      clusterToken,
      async ({ partition, epoch }) => {
        checkPartition(partition);
        return target.fence(partition, epoch);
      },
    ),
    GetStatus: unary<{ partition: string }, { status: ReplicaStatus }>(
      clusterToken,
      async ({ partition }) => {
        checkPartition(partition);
        return { status: await target.status(partition) };
      },
    ),
    ListStatus: unary<Record<string, never>, { statuses: ReplicaStatus[] }>(clusterToken, async () => ({
      statuses: await target.statuses(),
    })),
  };
}

type RawStatus = Omit<ReplicaStatus, 'role'> & { role: string };

/**
 * Typed client of a node's ReplicaControl service, for the failover manager: fence a
 * partition's replica at a new epoch and read replica progress, on any node. Errors come
 * back as ReplicationError with the server's code (e.g. MF_STALE_EPOCH).
 */
export class ReplicaControlClient {
  private readonly client: grpc.Client;

  constructor(
    address: string,
    private readonly clusterToken?: string,
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
    const Ctor = replicatorProto().ReplicaControl;
    this.client = new Ctor(address, credentials, NODE_LINK_OPTIONS);
  }

  private call<Req, Res>(method: string, request: Req, deadlineMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      type UnaryMethod = (
        request: Req,
        metadata: grpc.Metadata,
        options: grpc.CallOptions,
        callback: (err: grpc.ServiceError | null, reply: Res) => void,
      ) => void;
      const fn = (this.client as unknown as Record<string, UnaryMethod>)[method]!.bind(this.client);
      fn(request, tokenMetadata(this.clusterToken), { deadline: Date.now() + deadlineMs }, (err, reply) => {
        if (err) reject(fromServiceError(err));
        else resolve(reply);
      });
    });
  }

  fence(partition: PartitionId, epoch: number, deadlineMs = 3_000): Promise<FenceResult> {
    return this.call('Fence', { partition, epoch }, deadlineMs);
  }

  async status(partition: PartitionId, deadlineMs = 3_000): Promise<ReplicaStatus> {
    const reply = await this.call<{ partition: string }, { status: RawStatus }>(
      'GetStatus',
      { partition },
      deadlineMs,
    );
    return { ...reply.status, role: reply.status.role as ReplicaRole };
  }

  async statuses(deadlineMs = 3_000): Promise<ReplicaStatus[]> {
    const reply = await this.call<object, { statuses: RawStatus[] }>('ListStatus', {}, deadlineMs);
    return reply.statuses.map((s) => ({ ...s, role: s.role as ReplicaRole }));
  }

  close(): void {
    this.client.close();
  }
}
