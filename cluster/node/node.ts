import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Etcd3, Watcher } from 'etcd3';
import { type Clock, systemClock } from '../../core/clock.js';
import { MeterfabricError } from '../../core/errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { settleWithin } from '../../core/settle-within.js';
import { ActorHost, type OutgoingCall } from '../actors/actor-host.js';
import { ActorProxy } from '../actors/actor-proxy.js';
import {
  defaultManifestPaths,
  type ExtensionSpec,
  loadExtensions,
  loadManifests,
  type ServiceSpec,
} from '../config/manifest.js';
import type { NodeConfig } from '../config/node-config.js';
import { ConfigStore } from '../failover/config-store.js';
import { FailoverManager } from '../failover/failover-manager.js';
import { FmElection } from '../failover/fm-election.js';
import { maxReadFormat } from '../format/persisted-format.js';
import { createEtcdClient } from '../membership/etcd-client.js';
import { Membership, type NodeRecord } from '../membership/membership.js';
import { WriteFormatWatch } from '../membership/write-format.js';
import type { NodeId, PartitionConfiguration, PartitionId } from '../replicator/contract.js';
import { chaosClockFromEnv } from './chaos-clock.js';
import { type NodeDataPlane, openLocalReplicas } from './data-plane.js';
import {
  type DrainEnd,
  type DrainOutcome,
  type DrainState,
  drainEndMessages,
  drainPollMs,
  drainStep,
  drainTimeoutMs,
  resignTimeoutMs,
} from './drain.js';
import { type StartedExtension, startExtensions } from './extensions.js';
import { channelOptions } from './grpc-contracts.js';
import { nodeHealth } from './health.js';
import { type Health, NodeMetrics, startMetricsServer } from './metrics.js';
import { registerNodeServices } from './node-rpc.js';
import { PeerClients } from './peers.js';
import { ReplicaLifecycle } from './replica-lifecycle.js';
import { RoleLog } from './role-log.js';
import { EtcdJoinDeadline } from './start-steps.js';
import { extensionStopTimeoutMs, runStopStep, type StopStep } from './stop-steps.js';

export const runtimeVersion = '0.1.0';

/**
 * One cluster node: gRPC server (replication, control, actor calls), membership lease,
 * failover-manager candidacy, the local replicas' lifecycle and the actors of the partitions
 * it is primary of. start() returns once the node is a member; stop() drains unless told not to.
 */
export class ClusterNode {
  readonly logger: Logger;
  readonly metrics = new NodeMetrics();
  private readonly clock: Clock;
  private readonly services: ServiceSpec[];
  private readonly extensionSpecs: ExtensionSpec[];
  private extensions: StartedExtension[] = [];
  private proxy: ActorProxy | null = null;
  private server: grpc.Server | null = null;
  private client: Etcd3 | null = null;
  private membership: Membership | null = null;
  private election: FmElection | null = null;
  private fm: FailoverManager | null = null;
  private lifecycle: ReplicaLifecycle | null = null;
  private replicas: NodeDataPlane | null = null;
  private peers: PeerClients | null = null;
  private configWatcher: Watcher | null = null;
  private metricsServer: { address: string; close(): Promise<void> } | null = null;
  private actors: ActorHost | null = null;
  private readonly configs = new Map<PartitionId, PartitionConfiguration>();
  private address = '';
  private draining = false;
  private stopped = false;

  constructor(
    readonly config: NodeConfig,
    private readonly options: {
      clock?: Clock;
      logger?: Logger;
      /** Called once the gRPC server is bound (before joining), with the address it really bound. */
      onListening?: (address: string) => void;
    } = {},
  ) {
    // TEST-ONLY: MF_CHAOS_CLOCK_CONTROL (chaos clock nemesis) may slow this node's clock; unset, it is the system clock.
    this.clock = options.clock ?? chaosClockFromEnv(config.nodeId) ?? systemClock;
    this.logger = options.logger ?? createLogger({ nodeId: config.nodeId });
    const manifests = config.manifests.length > 0 ? config.manifests : defaultManifestPaths();
    this.services = loadManifests(manifests);
    this.extensionSpecs = loadExtensions(manifests);
  }

  get grpcAddress(): string {
    return this.address;
  }

  async start(): Promise<void> {
    const { config, logger } = this;
    this.server = new grpc.Server(channelOptions);
    this.address = await this.bind(this.server, config.listen);
    this.options.onListening?.(this.address);
    const advertise = config.advertise ?? this.address;
    this.metricsServer = await startMetricsServer(config.metricsListen, this.metrics, () => this.health());

    this.client = createEtcdClient(config.etcd);
    const record: NodeRecord = {
      id: config.nodeId,
      address: advertise,
      metricsAddress: this.metricsServer.address,
      startedAt: new Date(this.clock.now()).toISOString(),
      version: runtimeVersion,
      draining: false,
      readsFormat: maxReadFormat,
    };
    this.membership = new Membership({
      client: this.client,
      cluster: config.cluster,
      record,
      leaseTtlMs: config.leaseTtlMs,
      leaseMarginMs: config.leaseMarginMs,
      clock: this.clock,
      logger: logger.child({ component: 'membership' }),
    });
    const membership = this.membership;
    const writeFormat = new WriteFormatWatch(membership, logger.child({ component: 'format' }));
    this.peers = new PeerClients(
      (node) => membership.nodes.get(node)?.address,
      config.peerAddressOverrides,
      config.clusterToken,
    );
    const peers = this.peers;

    const replicas = await openLocalReplicas({
      config,
      server: this.server,
      clock: this.clock,
      logger: logger.child({ component: 'replicas' }),
      addressOf: (node: NodeId) => peers.dialAddress(node),
      metrics: this.metrics.registry,
    });
    this.replicas = replicas;
    this.actors = new ActorHost({
      nodeId: config.nodeId,
      services: this.services,
      replicas,
      openStore: (p) => replicas.actorStore(p),
      configOf: (p) => this.configs.get(p),
      primaryEpoch: (p) => this.lifecycle?.primaryEpoch(p) ?? null,
      leaseValid: () => this.membership?.isValid() ?? false,
      send: (call) => this.send(call),
      doubleApplyRetries: config.faultInject.includes('double-apply-retries'),
      maxPayloadBytes: config.maxPayloadBytes,
      writeFormat: () => writeFormat.current,
      clock: this.clock,
      logger: logger.child({ component: 'actors' }),
      metrics: this.metrics,
    });
    const actors = this.actors;
    this.lifecycle = new ReplicaLifecycle(
      config.nodeId,
      replicas,
      (node) => peers.dialAddress(node),
      new RoleLog(config.roleLogPath ?? join(config.dataDir, 'roles.jsonl')),
      this.clock,
      logger.child({ component: 'lifecycle' }),
      { onPrimary: (c) => actors.activate(c), onNotPrimary: (p) => actors.deactivate(p) },
    );
    registerNodeServices(this.server, {
      nodeId: config.nodeId,
      services: this.services,
      token: config.clusterToken,
      lifecycle: this.lifecycle,
      replicas,
      actors,
      status: () => ({
        address: this.address,
        failoverManager: this.fm?.leading ?? false,
        leaseValidUntilMs: this.membership?.validUntilMs ?? 0,
        draining: this.draining,
        metricsAddress: this.metricsServer?.address ?? '',
      }),
      drain: () => this.drain(),
      exitAfterDrain: () => void this.stop({ drain: false }).then(() => process.exit(0)),
    });

    // Self-fencing: every local replica learns each new validity instant.
    membership.on('validUntil', (untilMs: number) => {
      for (const replica of replicas.opened()) replica.setLeaseValidUntil(untilMs);
    });
    // From here every step waits for etcd: one deadline for them all (start-steps.ts), so a
    // frozen or black-holed etcd fails the start with MF_ETCD_UNREACHABLE instead of hanging.
    const joining = new EtcdJoinDeadline(config.etcd, config.etcdJoinTimeoutMs);
    await joining.step('membership (lease grant, registration, member watch)', () => membership.start());
    for (const replica of replicas.opened()) replica.setLeaseValidUntil(membership.validUntilMs);
    this.lifecycle.watchLease(() => membership.isValid());

    await joining.step('configuration watch', () => this.watchConfigurations());
    const store = new ConfigStore(this.client, config.cluster);
    this.fm = new FailoverManager({
      store,
      services: this.services,
      members: () => membership.nodes,
      rpc: peers,
      clock: this.clock,
      logger: logger.child({ component: 'fm' }),
      initialClusterSize: config.initialClusterSize,
      reconcileIntervalMs: 1000,
      fenceTimeoutMs: 2000,
      maxConcurrentReconfigurations: 8,
      mismatchGraceMs: 4000,
      onReconfigured: () => this.metrics.reconfigurations.inc(),
      leaseValid: () => membership.isValid(),
    });
    const fm = this.fm;
    membership.on('nodes', () => fm.poke());
    this.election = new FmElection(
      this.client,
      config.cluster,
      config.nodeId,
      () => membership.leaseId,
      logger.child({ component: 'election' }),
      (leadership) => {
        this.metrics.fmLeader.set(1);
        fm.lead(leadership.token);
      },
      () => {
        this.metrics.fmLeader.set(0);
        fm.stop();
      },
    );
    membership.on('leaseLost', () => {
      // The FM key died with the lease; stop at once rather than when the watch tells us.
      fm.stop();
      this.metrics.fmLeader.set(0);
    });
    const election = this.election;
    await joining.step('FM election (watch, campaign)', () => election.start());
    const proxy = new ActorProxy({
      client: this.client,
      cluster: config.cluster,
      services: this.services,
      peerAddressOverrides: config.peerAddressOverrides,
      ...(config.clusterToken ? { token: config.clusterToken } : {}),
    });
    this.proxy = proxy;
    await joining.step('actor proxy (etcd watches)', () => proxy.start());
    this.extensions = await startExtensions(this.extensionSpecs, {
      nodeId: config.nodeId,
      config,
      proxy,
      logger,
      isPrimary: (p: string) =>
        this.lifecycle?.primaryEpoch(p) !== null && this.lifecycle?.primaryEpoch(p) !== undefined,
    });
    logger.info({ address: this.address, advertise, metrics: this.metricsServer.address }, 'node started');
  }

  /** Delivers an actor's post-commit send (best effort: logged, not retried beyond the proxy's deadline). */
  private send(call: OutgoingCall): void {
    const proxy = this.proxy;
    if (!proxy) return;
    proxy
      .call(call.service, call.key, call.method, call.arg, { idempotencyKey: call.idempotencyKey })
      .catch((err: unknown) =>
        this.logger.warn(
          { call: `${call.service}/${call.key}.${call.method}`, err: String(err) },
          'actor send failed',
        ),
      );
  }

  private async bind(server: grpc.Server, listen: string): Promise<string> {
    const host = listen.slice(0, listen.lastIndexOf(':'));
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err
          ? reject(
              new MeterfabricError(
                'MF_LISTEN_FAILED',
                `cannot listen on ${listen}: ${err.message}; free that port or give --listen host:0 (the node reports the port it got on its "listening" and "ready" lines)`,
              ),
            )
          : resolve(p),
      );
    });
    return `${host}:${port}`;
  }

  private async watchConfigurations(): Promise<void> {
    const store = new ConfigStore(this.client!, this.config.cluster);
    const apply = (config: PartitionConfiguration): void => {
      const known = this.configs.get(config.partition);
      if (known && known.epoch > config.epoch) return;
      this.configs.set(config.partition, config);
      this.lifecycle?.onConfiguration(config);
    };
    const reload = async (): Promise<void> => {
      for (const v of (await store.readAll()).values()) apply(v.config);
    };
    this.configWatcher = await store.watch(
      (v) => apply(v.config),
      () => void reload().catch(() => undefined),
    );
    await reload();
  }

  /** Configurations as this node last saw them. */
  get configurations(): ReadonlyMap<PartitionId, PartitionConfiguration> {
    return this.configs;
  }

  health(): Health {
    return nodeHealth({
      nodeId: this.config.nodeId,
      nowMs: this.clock.now(),
      leaseValidUntilMs: this.membership?.validUntilMs ?? 0,
      draining: this.draining,
      replicas: this.replicas?.opened().map((r) => r.status()) ?? [],
      configs: this.configs,
      metrics: this.metrics,
    });
  }

  /**
   * Graceful drain (Service Fabric's swap-primary): mark this node draining so the FM moves
   * every primary elsewhere, wait until it holds none, give up FM leadership. It stops waiting
   * early when nobody can move them (drain.ts): no other node to take them, or etcd cannot
   * carry the handover (the lease is no longer valid, or the draining mark was refused).
   * Resolves with how many primaries the node had and why the drain stopped waiting.
   */
  async drain(timeoutMs = drainTimeoutMs): Promise<DrainOutcome> {
    if (!this.membership || !this.lifecycle) return { primaries: 0, end: 'handed-over' };
    const membership = this.membership;
    const takers = (): number =>
      [...membership.nodes.values()].filter((m) => m.id !== this.config.nodeId && !m.draining).length;
    const before = this.lifecycle.primaries().length;
    this.draining = true;
    const deadline = this.clock.now() + timeoutMs;
    // Not awaited on its own: an etcd that is gone may never answer, and the lease tells
    // sooner that no FM can act on the mark (drainStep).
    let mark: DrainState['mark'] = 'pending';
    let markError: unknown;
    const marked = membership.setDraining().then(
      () => {
        mark = 'written';
        this.fm?.poke();
      },
      (err: unknown) => {
        mark = 'failed';
        markError = err;
      },
    );
    let end: DrainEnd;
    for (;;) {
      const step = drainStep({
        mark,
        ownsPrimaries: this.ownsPrimaries(),
        takers: takers(),
        leaseValid: membership.isValid(),
        nowMs: this.clock.now(),
        deadlineMs: deadline,
      });
      if (step !== 'wait') {
        end = step;
        break;
      }
      const poll = new Promise((r) => setTimeout(r, drainPollMs));
      await (mark === 'pending' ? Promise.race([marked, poll]) : poll);
    }
    if (end === 'handed-over') this.logger.info({ primaries: before }, drainEndMessages[end]);
    else if (end === 'not-marked') this.logger.warn({ err: String(markError) }, drainEndMessages[end]);
    else this.logger.warn(drainEndMessages[end]);
    // Unmarked, the node stays an FM candidate (an operator's Drain fails and may be retried).
    if (end !== 'not-marked') await this.resignWithin(resignTimeoutMs);
    return { primaries: before, end };
  }

  /** Gives FM leadership up, waiting at most `timeoutMs` for etcd (drain.ts: resignTimeoutMs). */
  private async resignWithin(timeoutMs: number): Promise<void> {
    if (!this.election) return;
    const resigned = await settleWithin(this.election.resign(), timeoutMs);
    if (resigned.status === 'rejected') throw resigned.reason;
    if (resigned.status === 'timed-out')
      this.logger.warn(
        { timeoutMs },
        'drain: etcd did not answer the FM resignation; the FM key dies with the lease',
      );
  }

  /** True while a configuration names this node primary or it still acts as one. */
  private ownsPrimaries(): boolean {
    for (const c of this.configs.values()) if (c.primary === this.config.nodeId) return true;
    return (this.lifecycle?.primaries().length ?? 0) > 0;
  }

  /**
   * Drains (unless told not to), then stops every part. Each step that waits for etcd or for
   * peers is bounded on its own (stop-steps.ts): one that does not finish is logged by name
   * and the next runs, so the node stops even against an etcd that never answers. The local
   * steps (actors, gRPC server, the replicas' stores) always run, and run to the end.
   */
  async stop(options: { drain: boolean } = { drain: true }): Promise<void> {
    if (this.stopped) return;
    if (options.drain)
      await this.drain().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'drain failed'));
    this.stopped = true;
    const step = (name: StopStep, work: () => Promise<unknown>, timeoutMs?: number): Promise<boolean> =>
      runStopStep(this.logger, name, work, timeoutMs);
    for (const { name, extension } of [...this.extensions].reverse())
      await step(`extension ${name} stop`, () => extension.stop(), extensionStopTimeoutMs);
    const { proxy, election, configWatcher, membership, metricsServer } = this;
    if (proxy) await step('actor proxy close (etcd watches, peer channels)', () => proxy.close());
    this.lifecycle?.close();
    this.fm?.stop();
    if (election) await step('FM election close (etcd watch)', () => election.close());
    if (configWatcher) await step('configuration watch cancel (etcd)', () => configWatcher.cancel());
    await this.actors?.close();
    if (membership) await step('membership close (etcd watch, lease revoke)', () => membership.close());
    this.server?.forceShutdown();
    await this.replicas
      ?.close()
      .catch((err: unknown) => this.logger.warn({ err: String(err) }, 'closing replicas failed'));
    this.peers?.close();
    this.client?.close();
    if (metricsServer) await step('metrics server close (open scrapes)', () => metricsServer.close());
    this.logger.info('node stopped');
  }

  /** Members as this node sees them. */
  get members(): ReadonlyMap<NodeId, NodeRecord> {
    return this.membership?.nodes ?? new Map();
  }
}
