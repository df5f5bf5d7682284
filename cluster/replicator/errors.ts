import { MeterfabricError } from '../../core/errors.js';
import type { ReplicationErrorCode } from './contract.js';

/** A replication failure with one of the contract's stable codes (see contract.ts). */
export class ReplicationError extends MeterfabricError {
  declare readonly code: ReplicationErrorCode;
  constructor(code: ReplicationErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'ReplicationError';
  }
}

export function isReplicationError(err: unknown, code?: ReplicationErrorCode): err is ReplicationError {
  return err instanceof ReplicationError && (code === undefined || err.code === code);
}

export function notPrimary(partition: string, detail: string): ReplicationError {
  return new ReplicationError(
    'MF_NOT_PRIMARY',
    `replica of ${partition} is not the primary (${detail}); refresh the partition configuration and retry on the current primary`,
    { partition },
  );
}

export function staleEpoch(partition: string, epoch: number, fencedEpoch: number): ReplicationError {
  return new ReplicationError(
    'MF_STALE_EPOCH',
    `replica of ${partition} refused epoch ${epoch}: it is fenced at epoch ${fencedEpoch}; the sender has been replaced`,
    { partition, epoch, fencedEpoch },
  );
}

/** gRPC status codes (numeric, to keep this module free of @grpc/grpc-js). */
const GRPC_STATUS: Record<ReplicationErrorCode, number> = {
  MF_NOT_PRIMARY: 9, // FAILED_PRECONDITION
  MF_STALE_EPOCH: 9, // FAILED_PRECONDITION
  MF_NO_WRITE_QUORUM: 14, // UNAVAILABLE
  MF_QUORUM_LOSS: 14, // UNAVAILABLE
  MF_REPLICATION_QUEUE_FULL: 8, // RESOURCE_EXHAUSTED
  MF_LEASE_EXPIRED: 9, // FAILED_PRECONDITION
};

/** The one mapping from replication error codes to gRPC status codes. */
export function grpcStatusOf(code: ReplicationErrorCode): number {
  return GRPC_STATUS[code];
}

const CODES = new Set<string>(Object.keys(GRPC_STATUS));
export function isReplicationErrorCode(code: string): code is ReplicationErrorCode {
  return CODES.has(code);
}
