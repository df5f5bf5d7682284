import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { minReplicaSetSize, partitionIds, type ServiceSpec } from '../config/manifest.js';
import type { NodeRecord } from '../membership/membership.js';
import {
  type ClusterView,
  initialConfiguration,
  planPrimaryMoves,
  planReplicaSet,
} from '../placement/placement.js';
import type {
  FenceResult,
  NodeId,
  PartitionConfiguration,
  PartitionId,
  ReplicaStatus,
} from '../replicator/contract.js';
import type { ConfigStore, VersionedConfiguration } from './config-store.js';
import {
  activeCount,
  activeReplicas,
  decidePrimary,
  type FenceAnswer,
  majority,
  nextConfiguration,
} from './reconfiguration.js';
import { builtReplicas, findMismatches, mapLimit } from './replica-audit.js';

/** What the FM needs from other nodes (gRPC in production). */
export interface ReplicaRpc {
  fence(node: NodeId, partition: PartitionId, epoch: number, timeoutMs: number): Promise<FenceResult>;
  /** Status of every replica the node hosts. */
  statuses(node: NodeId, timeoutMs: number): Promise<ReplicaStatus[]>;
}

export type FailoverManagerOptions = {
  store: ConfigStore;
  services: readonly ServiceSpec[];
  members: () => ReadonlyMap<NodeId, NodeRecord>;
  rpc: ReplicaRpc;
  clock: Clock;
  logger: Logger;
  /** Partitions are first placed once this many nodes are up (so primaries spread at once). */
  initialClusterSize: number;
  /** How often the FM re-examines the cluster even without events. */
  reconcileIntervalMs: number;
  fenceTimeoutMs: number;
  /** Concurrent reconfigurations (each is a few RPCs and two etcd writes). */
  maxConcurrentReconfigurations: number;
  /** A replica must disagree with its configuration this long before the FM acts. */
  mismatchGraceMs: number;
  onReconfigured?: (config: PartitionConfiguration) => void;
  /** The node's lease is valid (an FM that was frozen or cut off must not act on stale reads). */
  leaseValid: () => boolean;
};

/**
 * The failover manager's driver (runs only on the elected node). Each pass reads every
 * configuration, audits replicas against them, and moves each partition toward its plan:
 * first placement, replacement of lost or draining replicas, promotion of built replicas,
 * and reconfiguration (fence, pick highest (epoch, LSN) among a majority, commit).
 */
export class FailoverManager {
  private token: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private readonly firstMismatchAt = new Map<string, number>();

  constructor(private readonly options: FailoverManagerOptions) {}

  lead(token: string): void {
    this.token = token;
    this.options.logger.info('failover manager active');
    this.timer = setInterval(() => this.poke(), this.options.reconcileIntervalMs);
    this.poke();
  }

  stop(): void {
    this.token = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get leading(): boolean {
    return this.token !== null;
  }

  /** Asks for a pass soon (membership changed); passes never overlap. */
  poke(): void {
    if (!this.token) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err: unknown) => this.options.logger.warn({ err: String(err) }, 'fm pass failed'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** Resolves when the current pass (if any) is done: for tests and drain. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async pass(): Promise<void> {
    const { store, services, logger } = this.options;
    const token = this.token;
    if (!token || !this.options.leaseValid()) return;
    const members = this.options.members();
    const eligible = [...members.values()]
      .filter((m) => !m.draining)
      .map((m) => m.id)
      .sort();
    const versioned = await store.readAll();
    const configs = new Map<PartitionId, PartitionConfiguration>();
    for (const [p, v] of versioned) configs.set(p, v.config);
    const view: ClusterView = { eligible, configs };

    const statuses = await this.collectStatuses([...members.keys()]);
    const now = this.options.clock.now();
    const jobs: Array<() => Promise<void>> = [];
    for (const service of services) {
      const minReplicas = this.minReplicas(service);
      for (const partition of partitionIds(service)) {
        const current = versioned.get(partition);
        if (!current) {
          // Never below the minimum either: minReplicas <= min(initialClusterSize, target).
          if (eligible.length < Math.min(this.options.initialClusterSize, service.replicas)) continue;
          const config = initialConfiguration(partition, view, service.replicas);
          if (!config) continue;
          configs.set(partition, config); // later placements see this load
          jobs.push(() => this.create(config, token));
          continue;
        }
        const built = builtReplicas(current.config, statuses);
        const plan = planReplicaSet(current.config, view, service.replicas, built);
        const mismatched = this.stableMismatches(current.config, statuses, members, now);
        const primary = current.config.primary;
        const primaryUnfit = primary === null || !eligible.includes(primary);
        if (current.config.status === 'ok' && !plan.changed && !primaryUnfit && mismatched.length === 0)
          continue;
        configs.set(partition, { ...current.config, replicas: plan.replicas, building: plan.building });
        jobs.push(() =>
          this.reconfigure(current, plan.replicas, plan.building, new Set(eligible), token, minReplicas),
        );
      }
    }
    if (jobs.length === 0) {
      // Nothing to repair: even out primaries (a node that rejoined holds none).
      for (const service of services) {
        const minReplicas = this.minReplicas(service);
        for (const move of planPrimaryMoves(service.name, view, 2)) {
          const current = versioned.get(move.partition);
          if (!current) continue;
          // Only the current primary and the target may be picked: the target only if it
          // holds everything (no loss, no ping-pong through a third node), else nothing moves.
          const others = new Set([move.from, move.to]);
          jobs.push(() =>
            this.reconfigure(
              current,
              current.config.replicas,
              current.config.building,
              others,
              token,
              minReplicas,
              move.to,
            ),
          );
        }
      }
    }
    if (jobs.length > 0) logger.info({ partitions: jobs.length }, 'fm reconfiguring');
    await mapLimit(jobs, this.options.maxConcurrentReconfigurations, (job) =>
      job().catch((err: unknown) => logger.warn({ err: String(err) }, 'fm partition step failed')),
    );
  }

  private async collectStatuses(nodes: NodeId[]): Promise<Map<NodeId, Map<PartitionId, ReplicaStatus>>> {
    const result = new Map<NodeId, Map<PartitionId, ReplicaStatus>>();
    await Promise.all(
      nodes.map(async (node) => {
        try {
          const list = await this.options.rpc.statuses(node, this.options.fenceTimeoutMs);
          result.set(node, new Map(list.map((s) => [s.partition, s])));
        } catch {
          // unreachable node: its lease decides whether it is gone
        }
      }),
    );
    return result;
  }

  /**
   * Service Fabric's MinReplicaSetSize for `service`, capped by the declared initial cluster
   * size: a cluster started with MF_INITIAL_CLUSTER_SIZE=1 is a one-node dev cluster, where
   * one disk is all there is (a floor above it would keep every partition unplaced).
   */
  private minReplicas(service: ServiceSpec): number {
    return Math.max(1, Math.min(minReplicaSetSize(service), this.options.initialClusterSize));
  }

  /** Mismatches seen continuously for longer than the grace period (a node restarted, a role not taken). */
  private stableMismatches(
    config: PartitionConfiguration,
    statuses: Map<NodeId, Map<PartitionId, ReplicaStatus>>,
    members: ReadonlyMap<NodeId, NodeRecord>,
    now: number,
  ): NodeId[] {
    const found = new Set(findMismatches(config, statuses, members));
    const stable: NodeId[] = [];
    for (const node of config.replicas) {
      const key = `${config.partition}@${node}`;
      if (!found.has(node)) {
        this.firstMismatchAt.delete(key);
        continue;
      }
      const since = this.firstMismatchAt.get(key) ?? now;
      this.firstMismatchAt.set(key, since);
      if (now - since >= this.options.mismatchGraceMs) stable.push(node);
    }
    return stable;
  }

  /** First placement: written as pending, fenced at epoch 1, then committed. */
  private async create(config: PartitionConfiguration, token: string): Promise<void> {
    const pending: PartitionConfiguration = { ...config, primary: null, status: 'reconfiguring' };
    const revision = await this.options.store.write(pending, '0', token);
    await this.reconfigure(
      { config: pending, modRevision: revision },
      config.replicas,
      [],
      new Set(config.replicas),
      token,
      0, // first placement: already checked against the minimum by the pass
      config.primary,
      false,
    );
  }

  private async reconfigure(
    current: VersionedConfiguration,
    replicas: NodeId[],
    building: NodeId[],
    eligible: ReadonlySet<NodeId>,
    token: string,
    minReplicas: number,
    preferred: NodeId | null = current.config.primary,
    announce = true,
  ): Promise<void> {
    const { store, rpc, logger, fenceTimeoutMs } = this.options;
    const old = current.config;
    const members = this.options.members();
    const liveActive = activeReplicas(old).filter((n) => members.has(n)).length;
    // Still without a majority, or still too few nodes for the minimum replica-set size:
    // nothing to try until a replica returns (no epoch churn).
    if (old.status === 'quorum-loss' && liveActive < majority(activeReplicas(old).length)) return;
    if (old.status === 'quorum-loss' && activeCount(replicas, building) < minReplicas) return;
    const epoch = announce ? old.epoch + 1 : old.epoch;
    let revision = current.modRevision;
    // Step 1: the new epoch is announced before anyone is fenced to it.
    if (announce) {
      const { reason: _waitedFor, ...previous } = old; // a quorum-loss reason no longer applies
      revision = await store.write(
        { ...previous, epoch, primary: null, status: 'reconfiguring' },
        revision,
        token,
      );
    }
    if (this.token !== token || !this.options.leaseValid()) return;
    const targets = [...new Set([...old.replicas, ...replicas])].filter((n) => members.has(n));
    const answers: FenceAnswer[] = [];
    await Promise.all(
      targets.map(async (node) => {
        try {
          const r = await rpc.fence(node, old.partition, epoch, fenceTimeoutMs);
          answers.push({
            node,
            lastPersistedEpoch: r.lastPersistedEpoch,
            lastPersistedLsn: r.lastPersistedLsn,
          });
        } catch (err) {
          logger.debug({ node, partition: old.partition, err: String(err) }, 'fence failed');
        }
      }),
    );
    // Primary candidates: active members of the new set (never one still being built).
    const fit = new Set(replicas.filter((n) => eligible.has(n) && !building.includes(n)));
    const decision = decidePrimary(old, answers, fit, preferred && fit.has(preferred) ? preferred : null);
    if (this.token !== token || !this.options.leaseValid()) return;
    const next = nextConfiguration(old, epoch, decision, replicas, building, minReplicas);
    if (next.status === 'quorum-loss') {
      logger.error(
        { partition: old.partition, epoch, reason: next.reason },
        'quorum loss: waiting for replicas to return',
      );
      await store.write(next, revision, token);
      return;
    }
    await store.write(next, revision, token);
    logger.info(
      {
        partition: next.partition,
        epoch,
        primary: next.primary,
        replicas: next.replicas,
        building: next.building,
      },
      'configuration committed',
    );
    this.options.onReconfigured?.(next);
  }
}
