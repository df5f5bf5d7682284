import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Etcd3, Watcher } from 'etcd3';
import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import { partitionFor, type ServiceSpec } from '../config/manifest.js';
import { ConfigStore, decodeConfiguration } from '../failover/config-store.js';
import { keys } from '../membership/etcd-client.js';
import type { NodeRecord } from '../membership/membership.js';
import { callUnary, channelOptions, NodeService } from '../node/grpc-contracts.js';
import type { NodeId, PartitionConfiguration, PartitionId } from '../replicator/contract.js';
import { ActorCallChannel } from './actor-call-channel.js';

export type ActorProxyOptions = {
  client: Etcd3;
  cluster: string;
  services: readonly ServiceSpec[];
  /** node id -> host:port to dial instead (chaos proxies). */
  peerAddressOverrides?: Readonly<Record<NodeId, string>>;
  /** Whole-call deadline when the caller gives none. */
  defaultDeadlineMs?: number;
  /** One attempt's deadline (a hung primary must not eat the whole budget). */
  attemptTimeoutMs?: number;
  /** The cluster token (MF_CLUSTER_TOKEN) when the cluster requires one. */
  token?: string;
  /** Cap of the jittered exponential backoff between attempts. */
  maxBackoffMs?: number;
  /**
   * 'stream' (default): calls multiplexed on one `Node.CallActors` stream per node
   * (actor-call-channel.ts); 'unary': one `Node.CallActor` RPC per call (kept for comparison
   * in bench/actors.bench.ts).
   */
  transport?: 'stream' | 'unary';
  /**
   * A partition in quorum loss: false (default) fails the call at once with MF_QUORUM_LOSS
   * (an interactive caller learns it now); true waits for the replicas to return, retrying
   * until the call's deadline like any transient fault, for batch callers such as the
   * head-end's collection driver, whose next step needs this one to have happened.
   */
  waitOutQuorumLoss?: boolean;
};

export type CallOptions = {
  idempotencyKey?: string;
  deadlineMs?: number;
  /**
   * `JSON.stringify(arg)` when the caller has built it already (the head-end driver measures
   * each packed call against its byte cap): sent as the payload instead of stringifying `arg`
   * again. The caller vouches that it is that JSON; `arg` is then not read.
   */
  payloadJson?: string;
};

/** Errors after which another attempt (same idempotency key) may succeed. */
const retryable = new Set([
  'MF_NOT_PRIMARY',
  'MF_STALE_EPOCH',
  'MF_LEASE_EXPIRED',
  'MF_UNAVAILABLE',
  'MF_DEADLINE',
  'MF_NO_WRITE_QUORUM',
  'MF_QUORUM_LOSS',
  'MF_REPLICATION_QUEUE_FULL',
  'MF_DRAINING',
  'MF_CALL_STREAM_FULL',
]);

const defaultMaxBackoffMs = 1000;

/**
 * Client-side routing of actor calls: (service, key) -> partition -> primary's address, from
 * the configurations watched in etcd. On NOT_PRIMARY / UNAVAILABLE (and other transient
 * codes) it refreshes the configuration and retries with backoff until the deadline, always
 * with the same idempotency key, so a call that did commit before a failover is answered
 * from the actor's dedup table rather than run twice. A partition in quorum loss fails at
 * once with MF_QUORUM_LOSS: retrying cannot help until replicas return (unless the caller
 * asked to wait for them: `waitOutQuorumLoss`, bounded by the call's deadline).
 */
export class ActorProxy {
  private readonly configs = new Map<PartitionId, PartitionConfiguration>();
  private readonly nodes = new Map<NodeId, NodeRecord>();
  private readonly clients = new Map<string, grpc.Client>();
  private readonly channels = new Map<string, ActorCallChannel>();
  private readonly serviceByName: Map<string, ServiceSpec>;
  private watchers: Watcher[] = [];
  private readonly store: ConfigStore;

  constructor(private readonly options: ActorProxyOptions) {
    this.serviceByName = new Map(options.services.map((s) => [s.name, s]));
    this.store = new ConfigStore(options.client, options.cluster);
  }

  async start(): Promise<void> {
    const { client, cluster } = this.options;
    const nodePrefix = keys.nodes(cluster);
    const nodeWatcher = await client.watch().prefix(nodePrefix).create();
    nodeWatcher.on('put', (kv) => {
      try {
        const record = JSON.parse(kv.value.toString()) as NodeRecord;
        this.nodes.set(record.id, record);
      } catch {
        // not ours
      }
    });
    nodeWatcher.on('delete', (kv) => this.nodes.delete(kv.key.toString().slice(nodePrefix.length)));
    const configWatcher = await this.store.watch(
      (v) => this.learn(v.config),
      () => void this.refreshAll().catch(() => undefined),
    );
    this.watchers = [nodeWatcher, configWatcher];
    await this.refreshAll();
  }

  private learn(config: PartitionConfiguration): void {
    const known = this.configs.get(config.partition);
    if (!known || known.epoch <= config.epoch) this.configs.set(config.partition, config);
  }

  private async refreshAll(): Promise<void> {
    const nodes = await this.options.client.getAll().prefix(keys.nodes(this.options.cluster)).strings();
    this.nodes.clear();
    for (const value of Object.values(nodes)) {
      const record = JSON.parse(value) as NodeRecord;
      this.nodes.set(record.id, record);
    }
    for (const v of (await this.store.readAll()).values()) this.learn(v.config);
  }

  private async refresh(partition: PartitionId): Promise<void> {
    const { client, cluster } = this.options;
    const response = await client.get(keys.partition(cluster, partition)).exec();
    const kv = response.kvs[0];
    const v = kv ? decodeConfiguration(kv) : null;
    if (v) this.learn(v.config);
    const primary = v?.config.primary;
    if (primary) {
      const record = await client.get(keys.node(cluster, primary)).string();
      if (record) this.nodes.set(primary, JSON.parse(record) as NodeRecord);
    }
  }

  /** The partition a key routes to. */
  partitionOf(service: string, key: string): PartitionId {
    const spec = this.serviceByName.get(service);
    if (!spec) throw new MeterfabricError('MF_UNKNOWN_SERVICE', `no service "${service}" in the manifests`);
    return partitionFor(spec, key);
  }

  configuration(partition: PartitionId): PartitionConfiguration | undefined {
    return this.configs.get(partition);
  }

  async call<T = unknown>(
    service: string,
    key: string,
    method: string,
    arg: unknown,
    options: CallOptions = {},
  ): Promise<T> {
    const partition = this.partitionOf(service, key);
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const deadline = Date.now() + (options.deadlineMs ?? this.options.defaultDeadlineMs ?? 30_000);
    const payload = Buffer.from(options.payloadJson ?? JSON.stringify(arg ?? null));
    let attempt = 0;
    let lastError: MeterfabricError | null = null;
    for (;;) {
      const config = this.configs.get(partition);
      if (config?.status === 'quorum-loss') {
        // Two ways in (cluster/README.md): the old replica set cannot answer with a majority,
        // or fewer replicas are up than the service's minimum replica-set size.
        const quorumLoss = new MeterfabricError(
          'MF_QUORUM_LOSS',
          `partition ${partition} has lost quorum (a majority of its replicas is down, or fewer than its minimum replica-set size are up${
            config.reason ? `: ${config.reason}` : ''
          }); writes are refused until enough replicas return`,
          { partition, epoch: config.epoch },
        );
        if (!this.options.waitOutQuorumLoss) throw quorumLoss;
        lastError = quorumLoss;
      }
      const address =
        config?.primary && config.status !== 'quorum-loss' ? this.addressOf(config.primary) : undefined;
      if (address) {
        const remaining = deadline - Date.now();
        try {
          const request = { service, key, method, payload, idempotencyKey, partition };
          const attemptMs = Math.max(1, Math.min(remaining, this.options.attemptTimeoutMs ?? 5000));
          const result =
            this.options.transport === 'unary'
              ? (
                  await callUnary<{ result: Buffer }>(
                    this.client(address),
                    'CallActor',
                    request,
                    attemptMs,
                    this.options.token,
                  )
                ).result
              : await this.channel(address).call(request, attemptMs);
          return (result.length === 0 ? null : JSON.parse(result.toString('utf8'))) as T;
        } catch (err) {
          if (!isMeterfabricError(err) || !retryable.has(err.code)) throw err;
          lastError = err;
        }
      }
      if (Date.now() >= deadline) {
        throw new MeterfabricError(
          'MF_DEADLINE',
          `call ${service}/${key}.${method} did not complete before its deadline${lastError ? ` (last error ${lastError.code}: ${lastError.message})` : ' (no primary known)'}; its outcome is unknown: retry with idempotency key ${idempotencyKey}`,
          { partition, idempotencyKey },
        );
      }
      const backoffMs =
        Math.min(this.options.maxBackoffMs ?? defaultMaxBackoffMs, 25 * 2 ** Math.min(attempt, 6)) *
        (0.5 + Math.random() / 2);
      attempt++;
      await new Promise((r) => setTimeout(r, Math.min(backoffMs, Math.max(0, deadline - Date.now()))));
      await this.refresh(partition).catch(() => undefined);
    }
  }

  private addressOf(node: NodeId): string | undefined {
    return this.options.peerAddressOverrides?.[node] ?? this.nodes.get(node)?.address;
  }

  private client(address: string): grpc.Client {
    let client = this.clients.get(address);
    if (!client) {
      client = new NodeService(address, grpc.credentials.createInsecure(), channelOptions);
      this.clients.set(address, client);
    }
    return client;
  }

  private channel(address: string): ActorCallChannel {
    let channel = this.channels.get(address);
    if (!channel) {
      channel = new ActorCallChannel(this.client(address), this.options.token);
      this.channels.set(address, channel);
    }
    return channel;
  }

  async close(): Promise<void> {
    // Local first: an etcd that never answers holds the watch cancels (a caller may stop
    // waiting for them, as ClusterNode.stop does), and must not keep the peer channels open.
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await Promise.all(this.watchers.map((w) => w.cancel().catch(() => undefined)));
  }
}
