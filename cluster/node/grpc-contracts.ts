import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';

/**
 * Loads node.proto and admin.proto once and maps errors at the gRPC boundary: an MF_* code
 * becomes a gRPC status with the code in the `mf-code` trailer, and back again on the client.
 */
const definition = protoLoader.loadSync(['node.proto', 'admin.proto'], {
  includeDirs: [join(packageRoot, 'protos')],
  keepCase: false,
  longs: Number,
  defaults: true,
  enums: String,
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  meterfabric: {
    node: { Node: grpc.ServiceClientConstructor };
    admin: { Admin: grpc.ServiceClientConstructor };
  };
};

export const NodeService = loaded.meterfabric.node.Node;
export const AdminService = loaded.meterfabric.admin.Admin;

/** Bound on every message either way (the actor payload bound is tighter and checked too). */
export const maxGrpcMessageBytes = 4 * 1024 * 1024;

export const channelOptions: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': maxGrpcMessageBytes,
  'grpc.max_send_message_length': maxGrpcMessageBytes,
  // Fail fast on a dead peer: the caller retries elsewhere after refreshing the configuration.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  // Callers retry themselves (ActorProxy with idempotency keys, the FM's reconcile loop);
  // grpc-js's own retry layer (on by default) only added CPU to every call and stream message.
  'grpc.enable_retries': 0,
};

const statusByCode: Record<string, grpc.status> = {
  MF_NOT_PRIMARY: grpc.status.FAILED_PRECONDITION,
  MF_STALE_EPOCH: grpc.status.FAILED_PRECONDITION,
  MF_LEASE_EXPIRED: grpc.status.FAILED_PRECONDITION,
  MF_NO_WRITE_QUORUM: grpc.status.UNAVAILABLE,
  MF_QUORUM_LOSS: grpc.status.UNAVAILABLE,
  MF_REPLICATION_QUEUE_FULL: grpc.status.RESOURCE_EXHAUSTED,
  MF_PAYLOAD_TOO_LARGE: grpc.status.INVALID_ARGUMENT,
  MF_BAD_REQUEST: grpc.status.INVALID_ARGUMENT,
  MF_UNKNOWN_SERVICE: grpc.status.NOT_FOUND,
  MF_UNKNOWN_METHOD: grpc.status.NOT_FOUND,
  MF_UNKNOWN_PARTITION: grpc.status.NOT_FOUND,
  MF_DRAINING: grpc.status.UNAVAILABLE,
  MF_DRAIN_NOT_MARKED: grpc.status.UNAVAILABLE,
};

/** Server side: any thrown error -> a gRPC error carrying its MF_* code. */
export function toGrpcError(err: unknown): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (isMeterfabricError(err)) {
    metadata.set('mf-code', err.code);
    return { code: statusByCode[err.code] ?? grpc.status.INTERNAL, details: err.message, metadata };
  }
  metadata.set('mf-code', 'MF_INTERNAL');
  return { code: grpc.status.INTERNAL, details: String(err), metadata };
}

/** Client side: a gRPC error -> MeterfabricError with the server's code (or MF_UNAVAILABLE). */
export function fromGrpcError(err: unknown): MeterfabricError {
  const e = err as grpc.ServiceError;
  const code = e.metadata?.get('mf-code')?.[0];
  if (typeof code === 'string') return new MeterfabricError(code, e.details ?? e.message);
  if (e.code === grpc.status.DEADLINE_EXCEEDED)
    return new MeterfabricError('MF_DEADLINE', e.details ?? 'deadline exceeded');
  return new MeterfabricError('MF_UNAVAILABLE', `node unreachable: ${e.details ?? e.message}`);
}

/** Wraps a promise-returning handler as a unary gRPC handler. */
/** Metadata key of the cluster token. */
export const tokenMetadataKey = 'mf-token';

/** Constant-time comparison of a presented cluster token with the expected one. */
export function tokenMatches(expected: string, got: unknown): boolean {
  if (typeof got !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(got);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Wraps a promise-returning handler as a unary gRPC handler; with a `token`, calls without
 * it are refused (UNAUTHENTICATED, MF_UNAUTHENTICATED) before the handler runs.
 */
export function unary<Req, Res>(
  handler: (request: Req) => Promise<Res>,
  token?: string,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    if (token && !tokenMatches(token, call.metadata.get(tokenMetadataKey)[0])) {
      const metadata = new grpc.Metadata();
      metadata.set('mf-code', 'MF_UNAUTHENTICATED');
      callback({
        code: grpc.status.UNAUTHENTICATED,
        details: 'this cluster requires its token (MF_CLUSTER_TOKEN) on every call',
        metadata,
      });
      return;
    }
    handler(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toGrpcError(err)),
    );
  };
}

/** Calls a unary method of a generic client with a deadline, as a promise. */
export function callUnary<Res>(
  client: grpc.Client,
  method: string,
  request: unknown,
  timeoutMs: number,
  token?: string,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, grpc.requestCallback<Res> & ((...a: unknown[]) => void)>)[
      method
    ];
    if (!fn) return reject(new Error(`no method ${method}`));
    const metadata = new grpc.Metadata();
    if (token) metadata.set(tokenMetadataKey, token);
    fn.call(
      client,
      request,
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, res?: Res) => {
        if (err) reject(fromGrpcError(err));
        else resolve(res as Res);
      },
    );
  });
}
