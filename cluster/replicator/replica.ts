import type { Clock } from '../../core/clock.js';
import { MeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type {
  FenceResult,
  Lsn,
  NodeAddressBook,
  NodeId,
  PartitionConfiguration,
  PartitionId,
  ReplicaRole,
  ReplicaStatus,
} from './contract.js';
import { type LogStateInit, ReplicaLogState } from './core/log-state.js';
import type { LogEntry, PartitionStore } from './disk/partition-store.js';
import { EntryCache } from './entry-cache.js';
import { notPrimary, ReplicationError } from './errors.js';
import type { ReplicationFaults } from './faults.js';
import type { ReplicatorOptions } from './options.js';
import { PrimaryRole } from './primary-role.js';
import type { ReplicationStream } from './primary-session.js';
import { SecondaryRole } from './secondary-role.js';
import type { ReplicatedStore, SecondaryProgress, StateRange } from './store-api.js';

export type ReplicaDeps = {
  partition: PartitionId;
  self: NodeId;
  store: PartitionStore;
  clock: Clock;
  logger: Logger;
  options: ReplicatorOptions;
  faults: ReplicationFaults;
  /** Opens a replication stream to a node's address (the host's channel pool). */
  openStream: (address: string) => ReplicationStream;
};

/**
 * One partition's replica on this node: the pure log bookkeeping (core/), the disk
 * (PartitionStore through the node's group-commit writer), applying committed operations,
 * compaction, and the roles: PrimaryRole for one epoch as primary, SecondaryRole for the
 * inbound replication stream.
 */
export class Replica implements ReplicatedStore {
  readonly partition: PartitionId;
  readonly self: NodeId;
  role: ReplicaRole = 'none';
  readonly log: ReplicaLogState;
  readonly cache: EntryCache;
  readonly secondary: SecondaryRole;
  private primary: PrimaryRole | null = null;
  private leaseValidUntilMs = Number.POSITIVE_INFINITY;
  /** Bumped whenever the log is cut or replaced, so late disk callbacks of the old log are ignored. */
  generation = 0;
  private applying: Promise<void> | null = null;
  private compacting = false;
  /** Secondary: lowest LSN every replica persisted, as told by the primary. */
  compactHintLsn: Lsn = 0;
  private closed = false;
  /** Lifecycle calls (fence, become*, demote) run one at a time, in arrival order. */
  private lifecycle: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: ReplicaDeps,
    init: LogStateInit,
  ) {
    this.partition = deps.partition;
    this.self = deps.self;
    this.log = new ReplicaLogState(deps.partition, init, deps.faults);
    this.cache = new EntryCache(init.lastPersistedLsn + 1, deps.options.maxCachedEntries);
    this.secondary = new SecondaryRole(this, deps.store, deps.faults, deps.logger);
  }

  get store(): PartitionStore {
    return this.deps.store;
  }

  /** Epoch in which this replica is primary, or null. */
  get primaryEpoch(): number | null {
    return this.primary ? this.primary.epoch : null;
  }

  status(): ReplicaStatus {
    return {
      partition: this.partition,
      role: this.role,
      epoch: this.log.fencedEpoch,
      lastPersistedLsn: this.log.persistedLsn,
      committedLsn: Math.max(this.primary?.core.commitLsn ?? 0, this.log.committedLsn),
      appliedLsn: this.log.appliedLsn,
      lastPersistedEpoch: this.log.lastPersistedEpoch,
    };
  }

  private serial<T>(body: () => Promise<T>): Promise<T> {
    const next = this.lifecycle.then(body, body);
    this.lifecycle = next.catch(() => {});
    return next;
  }

  fence(epoch: number): Promise<FenceResult> {
    return this.serial(() => this.fenceNow(epoch));
  }

  private async fenceNow(epoch: number): Promise<FenceResult> {
    this.assertOpen();
    const result = this.log.fence(epoch);
    await this.deps.store.writer.write([this.deps.store.fenceOp(this.log.fencedEpoch)]);
    if (this.primary && this.primary.epoch < this.log.fencedEpoch) this.stepDown(`fenced at epoch ${epoch}`);
    this.secondary.dropStreamsBelow(this.log.fencedEpoch);
    // what is on disk now: appends in flight landed before the fence write did
    return {
      ...result,
      lastPersistedEpoch: this.log.lastPersistedEpoch,
      lastPersistedLsn: this.log.persistedLsn,
    };
  }

  /** Raises the fencing epoch (durably) to at least `epoch`; refuses an older one. */
  async raiseEpoch(epoch: number): Promise<void> {
    this.log.checkEpoch(epoch);
    if (epoch > this.log.fencedEpoch) {
      this.log.fence(epoch);
      await this.deps.store.writer.write([this.deps.store.fenceOp(epoch)]);
    }
  }

  becomePrimary(config: PartitionConfiguration, addresses: NodeAddressBook): Promise<void> {
    return this.serial(() => this.becomePrimaryNow(config, addresses));
  }

  private async becomePrimaryNow(config: PartitionConfiguration, addresses: NodeAddressBook): Promise<void> {
    this.assertOpen();
    if (this.primary && this.primary.epoch === config.epoch) {
      this.primary.reconfigure(config, addresses);
      return;
    }
    await this.raiseEpoch(config.epoch);
    this.secondary.dropStreamsBelow(Number.POSITIVE_INFINITY);
    if (this.primary) this.stepDown('a new primary epoch');
    // Drop own operations of older epochs above what the failover manager decided to keep.
    const keep = Math.max(config.previousEpochLastLsn, this.log.appliedLsn);
    if (this.log.lastLsn > keep && this.log.lastEpoch < config.epoch) await this.truncate(keep);
    this.primary = new PrimaryRole(this, this.deps, config, addresses);
    this.role = 'primary';
    this.deps.logger.info(
      { partition: this.partition, epoch: config.epoch, lastLsn: this.log.lastLsn },
      'became primary',
    );
  }

  becomeSecondary(config: PartitionConfiguration): Promise<void> {
    return this.serial(async () => {
      this.assertOpen();
      await this.raiseEpoch(config.epoch);
      if (this.primary) this.stepDown('now a secondary');
      this.secondary.dropStreamsBelow(config.epoch);
      this.role = config.building.includes(this.self) ? 'idle-secondary' : 'active-secondary';
    });
  }

  demote(): Promise<void> {
    return this.serial(async () => {
      if (this.primary) this.stepDown('demoted');
      this.secondary.dropStreamsBelow(Number.POSITIVE_INFINITY);
      this.role = 'none';
    });
  }

  setLeaseValidUntil(validUntilMs: number): void {
    this.leaseValidUntilMs = validUntilMs;
  }

  leaseExpired(): boolean {
    return this.deps.clock.now() >= this.leaseValidUntilMs;
  }

  async replicate(operations: readonly Uint8Array[]): Promise<Lsn> {
    const primary = this.activePrimary('writes');
    primary.checkQuorumReachable();
    return primary.replicate(operations);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    await this.readable();
    return this.deps.store.get(key);
  }

  async scan(range: StateRange): Promise<Array<[string, Uint8Array]>> {
    await this.readable();
    return this.deps.store.scan(range);
  }

  /** Primary only: the replication queue (uncommitted operations and bytes). */
  queue(): { ops: number; bytes: number } | null {
    return this.primary?.queue() ?? null;
  }

  /** Primary only: how each secondary is doing (to promote built replicas, for status). */
  progress(): SecondaryProgress[] {
    return this.primary?.progress() ?? [];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.demote();
    this.closed = true;
    await this.applying;
  }

  /** Leaves the primary role; pending writes fail with MF_NOT_PRIMARY (their outcome is unknown). */
  stepDown(why: string): void {
    const primary = this.primary;
    if (!primary) return;
    this.primary = null;
    this.role = 'none';
    primary.stop(why);
    this.deps.logger.info(
      { partition: this.partition, epoch: primary.epoch, why },
      'stepped down as primary',
    );
  }

  failDisk(err: unknown): void {
    this.deps.logger.fatal({ err, partition: this.partition }, 'replica log write failed; the replica stops');
    this.stepDown('its disk failed');
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw notPrimary(this.partition, 'the replica is closed');
  }

  private activePrimary(what: string): PrimaryRole {
    this.assertOpen();
    const primary = this.primary;
    if (!primary || this.role !== 'primary') {
      throw notPrimary(this.partition, `role is ${this.role}; ${what} go to the primary`);
    }
    const now = this.deps.clock.now();
    if (now >= this.leaseValidUntilMs) {
      throw new ReplicationError(
        'MF_LEASE_EXPIRED',
        `node lease expired ${now - this.leaseValidUntilMs} ms ago; the primary of ${this.partition} has stepped down until its membership lease is renewed`,
        { partition: this.partition, validUntilMs: this.leaseValidUntilMs },
      );
    }
    return primary;
  }

  private async readable(): Promise<void> {
    const primary = this.activePrimary('reads');
    if (primary.barrierDone) return;
    // A new primary serves reads once everything it took over is committed and applied;
    // without a quorum that never happens, so the reader gets an error rather than a hang.
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.deps.options.writeTimeoutMs;
    await Promise.race([
      primary.barrierApplied,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ReplicationError(
                'MF_NO_WRITE_QUORUM',
                `primary of ${this.partition} could not commit its epoch barrier within ${timeoutMs} ms (no write quorum yet); reads wait for it: retry`,
                { partition: this.partition },
              ),
            ),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (this.primary !== primary) throw notPrimary(this.partition, 'stepped down while reading');
  }

  /** Entries [from, to] from memory, or from the log on disk for older ones. */
  entriesRange(fromLsn: Lsn, toLsn: Lsn): LogEntry[] | Promise<LogEntry[]> {
    if (this.cache.covers(fromLsn)) return this.cache.range(fromLsn, toLsn);
    if (fromLsn < this.log.logStartLsn) {
      throw new MeterfabricError('MF_LOG_COMPACTED', `LSN ${fromLsn} of ${this.partition} was compacted`);
    }
    const diskTo = Math.min(toLsn, this.cache.lowLsn - 1);
    return this.deps.store.readLog(fromLsn, diskTo, diskTo - fromLsn + 1).then((disk) => {
      const last = disk[disk.length - 1];
      if (!last || last.lsn !== diskTo) {
        throw new MeterfabricError(
          'MF_LOG_COMPACTED',
          `LSNs ${fromLsn}..${diskTo} of ${this.partition} are gone`,
        );
      }
      return diskTo < toLsn ? [...disk, ...this.cache.range(diskTo + 1, toLsn)] : disk;
    });
  }

  /** Cuts the log after `keepThroughLsn` (false progress of an older epoch). */
  async truncate(keepThroughLsn: Lsn): Promise<void> {
    const lastLsn = this.log.lastLsn;
    this.log.truncateAfter(keepThroughLsn);
    this.generation++;
    this.cache.truncateAfter(keepThroughLsn);
    await this.deps.store.writer.write([
      ...this.deps.store.truncateOps(keepThroughLsn, lastLsn),
      this.deps.store.historyOp(this.log.history),
    ]);
    this.log.markPersisted(Math.min(this.log.lastLsn, keepThroughLsn));
    this.deps.logger.info(
      { partition: this.partition, keepThroughLsn, droppedAfter: lastLsn },
      'truncated false progress',
    );
  }

  scheduleApply(): void {
    if (this.applying || this.log.appliedLsn >= this.log.committedLsn) return;
    this.applying = this.applyLoop().finally(() => {
      this.applying = null;
      if (this.log.appliedLsn < this.log.committedLsn && !this.closed) this.scheduleApply();
      else void this.maybeCompact();
    });
  }

  /** Resolves once no apply is running (a copy replaces the state underneath it). */
  async applyIdle(): Promise<void> {
    while (this.applying) await this.applying;
  }

  private async applyLoop(): Promise<void> {
    try {
      while (this.log.appliedLsn < this.log.committedLsn && !this.closed) {
        const generation = this.generation;
        const fromLsn = this.log.appliedLsn + 1;
        const toLsn = Math.min(this.log.committedLsn, fromLsn + 1023);
        const entries = await this.entriesRange(fromLsn, toLsn);
        await this.deps.store.apply(entries, toLsn);
        if (generation !== this.generation && this.log.appliedLsn >= toLsn) continue;
        this.log.markApplied(toLsn);
        if (this.primary) this.primary.onApplied(toLsn);
        else this.cache.releaseBelow(toLsn + 1);
      }
    } catch (err) {
      this.deps.logger.error({ err, partition: this.partition }, 'applying committed operations failed');
    }
  }

  private async maybeCompact(): Promise<void> {
    if (this.compacting || this.closed) return;
    const options = this.deps.options;
    let below = this.primary ? this.primary.compactableBelow() : this.compactHintLsn;
    // A replica lagging this far is rebuilt by copy rather than kept waiting on the log.
    if (this.log.lastLsn - this.log.logStartLsn > options.maxLogEntries) {
      below = Math.max(below, this.log.lastLsn - options.maxLogEntries);
    }
    below = this.log.compactionPoint(below);
    if (below - this.log.logStartLsn < options.compactEveryEntries) return;
    this.compacting = true;
    try {
      await this.deps.store.compact(this.log.logStartLsn, below);
      this.log.markCompacted(below);
    } catch (err) {
      this.deps.logger.error({ err, partition: this.partition }, 'log compaction failed');
    } finally {
      this.compacting = false;
    }
  }
}
