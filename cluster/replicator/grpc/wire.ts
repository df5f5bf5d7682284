import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from '../../../core/paths.js';
import type { EpochSegment } from '../core/epoch-history.js';

/** The messages of protos/replicator.proto as proto-loader hands them over (camelCase, longs as numbers). */
export type WireEntry = { lsn: number; epoch: number; ops: Uint8Array[] };
export type WireStateRecord = { key: string; value: Uint8Array };

export type PrimaryMessage =
  | { start: { partition: string; epoch: number; primaryNode: string } }
  | { entries: { epoch: number; entries: WireEntry[]; commitLsn: number; compactBelowLsn: number } }
  | { truncate: { epoch: number; keepThroughLsn: number } }
  | { copyChunk: { epoch: number; records: WireStateRecord[] } }
  | { copyEnd: { epoch: number; copyLsn: number; history: EpochSegment[] } };

export type HelloMessage = {
  fencedEpoch: number;
  lastPersistedLsn: number;
  appliedLsn: number;
  logStartLsn: number;
  history: EpochSegment[];
};

export type SecondaryMessage =
  | { hello: HelloMessage }
  | { ack: { epoch: number; persistedLsn: number; appliedLsn: number } }
  | { refused: { code: string; message: string; fencedEpoch: number } };

/** ReplicateMany: one message of one partition's stream (`message` absent on close/ended alone). */
export type PrimaryFrame = { channel: number; message: PrimaryMessage | null; close: boolean };
export type PrimaryFrames = { frames: PrimaryFrame[] };
export type SecondaryFrame = { channel: number; message: SecondaryMessage | null; ended: boolean };
export type SecondaryFrames = { frames: SecondaryFrame[] };

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: false,
};

type ServiceCtor = grpc.ServiceClientConstructor;
type ReplicatorPackage = { Replication: ServiceCtor; ReplicaControl: ServiceCtor };

let cached: ReplicatorPackage | undefined;

/** Loads protos/replicator.proto once per process. */
export function replicatorProto(): ReplicatorPackage {
  if (!cached) {
    const definition = protoLoader.loadSync(protoPath('replicator.proto'), LOADER_OPTIONS);
    const root = grpc.loadPackageDefinition(definition) as unknown as {
      meterfabric: { replicator: { v1: ReplicatorPackage } };
    };
    cached = root.meterfabric.replicator.v1;
  }
  return cached;
}

/** Channel options for node-to-node links: bounded messages, quick reconnects. */
export const NODE_LINK_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.keepalive_time_ms': 10_000,
  // The replicator reconnects and resends itself; grpc-js's retry layer (on by default) only
  // added a per-message cost to every long-lived stream (measured 25-50% of a message's CPU).
  'grpc.enable_retries': 0,
};
