import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';

/**
 * Optional shared secret of the cluster's nodes. When configured, every Replication stream
 * and ReplicaControl call must carry it (metadata `mf-cluster-token`): fencing and
 * replicating change state, so a production cluster should not accept them from anyone
 * who can reach the port. Unset (development, tests), calls are not checked.
 */
export const CLUSTER_TOKEN_METADATA_KEY = 'mf-cluster-token';

export function tokenMetadata(token: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token) metadata.set(CLUSTER_TOKEN_METADATA_KEY, token);
  return metadata;
}

export function tokenAccepted(expected: string | undefined, metadata: grpc.Metadata): boolean {
  if (!expected) return true;
  const given = metadata.get(CLUSTER_TOKEN_METADATA_KEY)[0];
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function unauthenticated(): grpc.ServiceError {
  return Object.assign(new Error('missing or wrong cluster token: configure the same token on every node'), {
    code: grpc.status.UNAUTHENTICATED,
    details: 'missing or wrong cluster token: configure the same token on every node',
    metadata: new grpc.Metadata(),
  });
}
