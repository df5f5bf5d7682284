import * as grpc from '@grpc/grpc-js';
import { ClassicLevel } from 'classic-level';
import { type Clock, systemClock } from '../../core/clock.js';
import { makeDirectorySync } from '../../core/fs/make-directory.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import type { FenceResult, NodeId, PartitionId, ReplicaStatus } from './contract.js';
import { GroupCommitWriter, type NodeDb } from './disk/group-commit.js';
import { PartitionStore } from './disk/partition-store.js';
import { processFaults, type ReplicationFaults } from './faults.js';
import { tokenMetadata } from './grpc/cluster-token.js';
import { controlHandlers, type ReplicaControlTarget } from './grpc/control-service.js';
import { type ManyCall, NodeLink } from './grpc/node-link.js';
import { replicateManyHandler } from './grpc/replicate-many.js';
import { replicationHandler, validPartitionId } from './grpc/replication-service.js';
import {
  NODE_LINK_OPTIONS,
  type PrimaryMessage,
  replicatorProto,
  type SecondaryMessage,
} from './grpc/wire.js';
import { DEFAULT_REPLICATOR_OPTIONS, type ReplicatorOptions, replicatorOptionsFromEnv } from './options.js';
import type { ReplicationStream } from './primary-session.js';
import { Replica } from './replica.js';

export type ReplicaHostConfig = {
  nodeId: NodeId;
  /** Directory of this node's replica database (created if missing). */
  dataDir: string;
  /** The node's gRPC server: the host adds the Replication and ReplicaControl services to it. */
  server?: grpc.Server;
  clock?: Clock;
  logger?: Logger;
  options?: Partial<ReplicatorOptions>;
  /** Shared secret every node-to-node call must carry (see grpc/cluster-token.ts); unset = not checked. */
  clusterToken?: string;
  /** Defaults to the process's MF_FAULT_INJECT switches (test-only; off by default). */
  faults?: ReplicationFaults;
};

/**
 * All replicas of one node: ONE classic-level database (each partition a sublevel, so one
 * `sync: true` batch group-commits operations of many partitions), the Replication and
 * ReplicaControl gRPC services on the node's server, and a pool of channels to other nodes.
 */
export class ReplicaHost implements ReplicaControlTarget {
  private readonly replicas = new Map<PartitionId, Promise<Replica>>();
  private readonly opened = new Map<PartitionId, Replica>();
  private readonly channels = new Map<string, grpc.Client>();
  /** With `multiplexStreams`: one ReplicateMany link per peer address. */
  private readonly links = new Map<string, NodeLink>();
  private readonly registry;
  readonly options: ReplicatorOptions;
  private closed = false;

  private constructor(
    readonly nodeId: NodeId,
    readonly db: NodeDb,
    readonly writer: GroupCommitWriter,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly faults: ReplicationFaults,
    options: Partial<ReplicatorOptions>,
    private readonly clusterToken: string | undefined,
  ) {
    this.options = { ...DEFAULT_REPLICATOR_OPTIONS, ...options };
    this.registry = db.sublevel<string, Uint8Array>('partitions', {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
    });
  }

  static async open(config: ReplicaHostConfig): Promise<ReplicaHost> {
    // The environment's options (MF_GROUP_COMMIT_LINGER_MS, MF_REPLICATION_MUX) under the
    // caller's; read first, so that a bad value is refused before the data directory is made.
    const options = { ...replicatorOptionsFromEnv(process.env), ...config.options };
    makeDirectorySync(config.dataDir);
    const db: NodeDb = new ClassicLevel<string, Uint8Array>(config.dataDir, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
    });
    await db.open();
    const host = new ReplicaHost(
      config.nodeId,
      db,
      new GroupCommitWriter(db, {
        lingerMs: options.groupCommitLingerMs ?? DEFAULT_REPLICATOR_OPTIONS.groupCommitLingerMs,
      }),
      config.clock ?? systemClock,
      (config.logger ?? silentLogger).child({ component: 'replicator', nodeId: config.nodeId }),
      config.faults ?? processFaults,
      options,
      config.clusterToken,
    );
    if (config.server) host.register(config.server);
    return host;
  }

  /** Adds the Replication and ReplicaControl services to `server` (call before it starts). */
  register(server: grpc.Server): void {
    const proto = replicatorProto();
    const serveOne = replicationHandler((p) => this.replica(p), this.logger, this.clusterToken);
    server.addService(proto.Replication.service, {
      Replicate: serveOne,
      ReplicateMany: replicateManyHandler(serveOne, this.clusterToken),
    });
    server.addService(proto.ReplicaControl.service, controlHandlers(this, this.clusterToken));
  }

  /** The replica of `partition` on this node, created on demand and reopened from disk after a restart. */
  replica(partition: PartitionId): Promise<Replica> {
    if (this.closed) return Promise.reject(new Error('replica host is closed'));
    if (!validPartitionId(partition)) return Promise.reject(new Error(`invalid partition id "${partition}"`));
    let replica = this.replicas.get(partition);
    if (!replica) {
      replica = this.openReplica(partition);
      this.replicas.set(partition, replica);
      replica.then((r) => this.opened.set(partition, r)).catch(() => {});
      replica.catch(() => this.replicas.delete(partition));
    }
    return replica;
  }

  private async openReplica(partition: PartitionId): Promise<Replica> {
    const store = new PartitionStore(partition, PartitionStore.level(this.db, partition), this.writer);
    const init = await store.load();
    await this.registry.put(partition, new Uint8Array([1]));
    return new Replica(
      {
        partition,
        self: this.nodeId,
        store,
        clock: this.clock,
        logger: this.logger,
        options: this.options,
        faults: this.faults,
        openStream: (address) => this.openStream(address),
      },
      init,
    );
  }

  /** Replicas open right now (for metrics and status without waiting). */
  openReplicas(): Replica[] {
    return [...this.opened.values()];
  }

  /** Partitions this node has ever held a replica of (on disk). */
  async knownPartitions(): Promise<PartitionId[]> {
    return this.registry.keys().all();
  }

  async fence(partition: PartitionId, epoch: number): Promise<FenceResult> {
    return (await this.replica(partition)).fence(epoch);
  }

  async status(partition: PartitionId): Promise<ReplicaStatus> {
    return (await this.replica(partition)).status();
  }

  /** Every replica this node holds on disk (opening those not yet open since a restart). */
  async statuses(): Promise<ReplicaStatus[]> {
    const replicas = await Promise.all((await this.knownPartitions()).map((p) => this.replica(p)));
    return replicas.map((r) => r.status());
  }

  /** With `multiplexStreams`: each peer's ReplicateMany link (messages and frames sent, fallback). */
  replicationLinks(): ReadonlyMap<string, NodeLink> {
    return this.links;
  }

  private openStream(address: string): ReplicationStream {
    if (!this.options.multiplexStreams) return this.openPlainStream(address);
    let link = this.links.get(address);
    if (!link) {
      const client = this.clientOf(address) as unknown as {
        ReplicateMany: (metadata: grpc.Metadata) => ManyCall;
      };
      link = new NodeLink(
        () => client.ReplicateMany(tokenMetadata(this.clusterToken)),
        () => this.openPlainStream(address),
      );
      this.links.set(address, link);
    }
    return link.open();
  }

  private clientOf(address: string): grpc.Client {
    let client = this.channels.get(address);
    if (!client) {
      const Ctor = replicatorProto().Replication;
      client = new Ctor(address, grpc.credentials.createInsecure(), NODE_LINK_OPTIONS);
      this.channels.set(address, client);
    }
    return client;
  }

  private openPlainStream(address: string): ReplicationStream {
    const replicate = (
      this.clientOf(address) as unknown as {
        Replicate: (metadata: grpc.Metadata) => grpc.ClientDuplexStream<PrimaryMessage, SecondaryMessage>;
      }
    ).Replicate;
    return replicate.call(this.clientOf(address), tokenMetadata(this.clusterToken));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const replicas = await Promise.allSettled([...this.replicas.values()]);
    for (const r of replicas) if (r.status === 'fulfilled') await r.value.close();
    for (const link of this.links.values()) link.close();
    for (const client of this.channels.values()) client.close();
    await this.writer.write([]).catch(() => {});
    await this.db.close();
  }
}
