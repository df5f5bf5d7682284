import { type NumberFlagRange, readNumberEnv } from '../../core/command-line.js';

/** Bounds and timings of a node's replicas; every queue and batch has an explicit limit. */
export type ReplicatorOptions = {
  /** Operations proposed but not yet committed, per partition (MF_REPLICATION_QUEUE_FULL beyond). */
  maxQueueOps: number;
  /** Log entries per replication message. */
  maxBatchEntries: number;
  /** Operation bytes per replication message (a single larger entry still goes alone). */
  maxMessageBytes: number;
  /** Bytes of operations proposed but not yet committed, per partition (MF_REPLICATION_QUEUE_FULL beyond). */
  maxQueueBytes: number;
  /** Entries sent to a secondary and not yet acknowledged. */
  maxInFlightEntries: number;
  /** A write not committed within this time fails with MF_NO_WRITE_QUORUM (outcome unknown). */
  writeTimeoutMs: number;
  /** A secondary unreachable for longer than this no longer counts as reachable: writes fail fast with MF_QUORUM_LOSS. */
  quorumLossGraceMs: number;
  /** Compact the log once this many applied entries every replica persisted are in it. */
  compactEveryEntries: number;
  /** Log entries kept even when a replica lags; a replica further behind is rebuilt by copy. */
  maxLogEntries: number;
  /** Size of one copy chunk when building a replica. */
  copyChunkBytes: number;
  /** Entries kept in memory for sending and applying. */
  maxCachedEntries: number;
  /**
   * A commit LSN with no new entries to carry it waits this long for one (it rides on the
   * next entries message), then goes alone. Secondaries only apply on it: no write waits for
   * it, and under load it saves a message, an ack and an apply write per call per secondary.
   */
  commitNoticeDelayMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /**
   * The node's group commit (disk/group-commit.ts), when idle, waits this long for more log
   * writes before it starts a `sync: true` batch (0: never, the default). Opt-in for a
   * CPU-bound node: on the head-end bench 2 ms cut node CPU per call by ~7% (fewer fsyncs
   * per write) without moving readings/s, and it makes a lone serial write wait that long
   * (the replication bench's 1-in-flight commit p50 0.7 -> 3 ms). `MF_GROUP_COMMIT_LINGER_MS`
   * on a node process sets it (0..100).
   */
  groupCommitLingerMs: number;
  /**
   * A primary sends every partition's stream to one peer on one `ReplicateMany` call, the
   * messages of one tick in one gRPC message (grpc/node-link.ts), instead of a `Replicate`
   * stream per partition; a peer without it gets per-partition streams. Opt-in
   * (`MF_REPLICATION_MUX=1` on a node process). Every node serves both.
   */
  multiplexStreams: boolean;
};

export const DEFAULT_REPLICATOR_OPTIONS: ReplicatorOptions = {
  maxQueueOps: 8192,
  maxBatchEntries: 512,
  maxMessageBytes: 4 * 1024 * 1024,
  maxQueueBytes: 64 * 1024 * 1024,
  maxInFlightEntries: 8192,
  writeTimeoutMs: 10_000,
  quorumLossGraceMs: 1_500,
  compactEveryEntries: 10_000,
  maxLogEntries: 500_000,
  copyChunkBytes: 256 * 1024,
  maxCachedEntries: 50_000,
  commitNoticeDelayMs: 10,
  reconnectMinMs: 50,
  reconnectMaxMs: 1_000,
  groupCommitLingerMs: 0,
  multiplexStreams: false,
};

/** `MF_GROUP_COMMIT_LINGER_MS`'s bounds: a plain decimal number of ms, 0 to 100. */
export const groupCommitLingerMsRange: NumberFlagRange = {
  integer: false,
  min: 0,
  max: 100,
  meaning: 'ms a group commit waits for more writes',
};

/**
 * The options a node process takes from its environment (`ReplicaHost.open` reads them, under
 * its caller's options): `MF_GROUP_COMMIT_LINGER_MS` and `MF_REPLICATION_MUX=1`. Read when a
 * host opens, not when this module loads: a bad value was an uncaught Error with a stack at
 * import (exit 1); it is now a ConfigError (MF_CONFIG_INVALID) naming the variable, and
 * `meterfabric node` lists it with its configuration's problems before it starts.
 */
export function replicatorOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Partial<ReplicatorOptions> {
  const lingerMs = readNumberEnv('MF_GROUP_COMMIT_LINGER_MS', env, groupCommitLingerMsRange);
  return {
    ...(lingerMs !== undefined ? { groupCommitLingerMs: lingerMs } : {}),
    ...(env.MF_REPLICATION_MUX === '1' ? { multiplexStreams: true } : {}),
  };
}
