import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type {
  FenceResult,
  NodeAddressBook,
  NodeId,
  PartitionConfiguration,
  PartitionId,
  ReplicaRole,
} from '../replicator/contract.js';
import type { LocalReplicas } from './local-replicas.js';
import type { RoleLog } from './role-log.js';

export type RoleListener = {
  /** This node now is the primary of `config` (writes accepted). */
  onPrimary(config: PartitionConfiguration): void;
  /** This node is no longer (or not) the primary of `partition`. */
  onNotPrimary(partition: PartitionId): void;
};

/**
 * Drives this node's replicas from the configurations in etcd. A role is taken only for an
 * epoch this process was fenced to: every configuration the FM commits was preceded by a
 * fence, so a node that restarted never acts on a configuration from before its restart (it
 * waits for the FM to reconfigure). Changes of one partition apply one at a time, newest wins.
 */
export class ReplicaLifecycle {
  private readonly fenced = new Map<PartitionId, number>();
  private readonly acting = new Map<PartitionId, { epoch: number; role: ReplicaRole }>();
  private readonly latest = new Map<PartitionId, PartitionConfiguration>();
  private readonly busy = new Set<PartitionId>();
  /** Epoch of the primary role each partition gave up when the lease expired. */
  private readonly steppedDown = new Map<PartitionId, number>();
  private leaseWatch: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly nodeId: NodeId,
    private readonly replicas: LocalReplicas,
    private readonly addresses: NodeAddressBook,
    private readonly roleLog: RoleLog,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly listener: RoleListener,
  ) {}

  async fence(partition: PartitionId, epoch: number): Promise<FenceResult> {
    const replica = await this.replicas.open(partition);
    const result = await replica.fence(epoch);
    this.fenced.set(partition, Math.max(this.fenced.get(partition) ?? 0, epoch));
    const current = this.acting.get(partition);
    if (current && current.epoch < epoch) {
      // Fenced replicas no longer act in their old role; the next configuration assigns one.
      if (current.role === 'primary') this.listener.onNotPrimary(partition);
      this.acting.delete(partition);
    }
    return result;
  }

  /** Primary of `partition` in this process, at which epoch (null if none). */
  primaryEpoch(partition: PartitionId): number | null {
    const a = this.acting.get(partition);
    return a?.role === 'primary' ? a.epoch : null;
  }

  primaries(): PartitionId[] {
    return [...this.acting].filter(([, a]) => a.role === 'primary').map(([p]) => p);
  }

  onConfiguration(config: PartitionConfiguration): void {
    if (this.closed) return;
    const previous = this.latest.get(config.partition);
    if (previous && previous.epoch > config.epoch) return;
    this.latest.set(config.partition, config);
    void this.drain(config.partition);
  }

  private async drain(partition: PartitionId): Promise<void> {
    if (this.busy.has(partition)) return;
    this.busy.add(partition);
    try {
      for (;;) {
        const config = this.latest.get(partition);
        if (!config || this.closed) return;
        const before = config;
        try {
          await this.apply(config);
        } catch (err) {
          this.logger.warn({ partition, epoch: config.epoch, err: String(err) }, 'role change failed');
        }
        if (this.latest.get(partition) === before) return;
      }
    } finally {
      this.busy.delete(partition);
    }
  }

  private async apply(config: PartitionConfiguration): Promise<void> {
    const partition = config.partition;
    const current = this.acting.get(partition);
    if (!config.replicas.includes(this.nodeId)) {
      if (current) {
        this.record(partition, config.epoch, 'none');
        if (current.role === 'primary') this.listener.onNotPrimary(partition);
        this.acting.delete(partition);
        const replica = await this.replicas.open(partition);
        await replica.demote();
      }
      return;
    }
    if (config.status !== 'ok') return;
    if (this.fenced.get(partition) !== config.epoch) return;
    // A primary that stepped down on lease expiry resumes only through a newer configuration.
    if ((this.steppedDown.get(partition) ?? 0) >= config.epoch) return;
    if (current && current.epoch === config.epoch) return;
    const replica = await this.replicas.open(partition);
    if (config.primary === this.nodeId) {
      this.record(partition, config.epoch, 'primary');
      this.acting.set(partition, { epoch: config.epoch, role: 'primary' });
      await replica.becomePrimary(config, this.addresses);
      if (this.acting.get(partition)?.epoch === config.epoch) this.listener.onPrimary(config);
    } else {
      const role: ReplicaRole = config.building.includes(this.nodeId) ? 'idle-secondary' : 'active-secondary';
      this.record(partition, config.epoch, role);
      this.acting.set(partition, { epoch: config.epoch, role });
      if (current?.role === 'primary') this.listener.onNotPrimary(partition);
      await replica.becomeSecondary(config);
    }
  }

  /**
   * Self-fencing made durable: the node's lease expired, so it may already have been replaced.
   * Leave every primary role (stop replicating and reconnecting to peers as primary; pending
   * and new writes fail with MF_NOT_PRIMARY) instead of waiting, possibly forever, to be fenced.
   * The role comes back only with a newer configuration from the FM (which fences first); a
   * lease that recovers in place shows up to the FM as a primary not acting its role.
   */
  async stepDownPrimaries(why: string): Promise<PartitionId[]> {
    const left: PartitionId[] = [];
    for (const [partition, acting] of [...this.acting]) {
      if (acting.role !== 'primary') continue;
      this.steppedDown.set(partition, acting.epoch);
      this.acting.delete(partition);
      this.record(partition, acting.epoch, 'none');
      this.listener.onNotPrimary(partition);
      left.push(partition);
    }
    for (const partition of left) {
      const replica = await this.replicas.open(partition);
      await replica.demote();
    }
    if (left.length > 0) this.logger.warn({ partitions: left.length, why }, 'stepped down as primary');
    return left;
  }

  /** Checks the lease every `intervalMs` and steps down once it is no longer valid. */
  watchLease(leaseValid: () => boolean, intervalMs = 100): void {
    if (this.leaseWatch) clearInterval(this.leaseWatch);
    this.leaseWatch = setInterval(() => {
      if (this.closed || leaseValid() || this.primaries().length === 0) return;
      this.stepDownPrimaries('membership lease expired').catch((err: unknown) =>
        this.logger.warn({ err: String(err) }, 'step-down failed'),
      );
    }, intervalMs);
    this.leaseWatch.unref?.();
  }

  private record(partition: PartitionId, epoch: number, role: ReplicaRole): void {
    this.roleLog.record({ node: this.nodeId, partition, epoch, role, atMs: this.clock.now() });
  }

  close(): void {
    this.closed = true;
    if (this.leaseWatch) clearInterval(this.leaseWatch);
    this.leaseWatch = null;
  }
}
