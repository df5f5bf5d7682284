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
import { agreementLsn, type EpochHistory, historyChanged } from './core/epoch-history.js';
import { ReplicaLogState } from './core/log-state.js';
import { PrimaryCore } from './core/primary-core.js';
import { quorumSize } from './core/quorum.js';
import type { LogEntry, PartitionStore } from './disk/partition-store.js';
import { EntryCache } from './entry-cache.js';
import { notPrimary, ReplicationError } from './errors.js';
import type { ReplicationFaults } from './faults.js';
import type { HelloMessage } from './grpc/wire.js';
import type { ReplicatorOptions } from './options.js';
import {
  type CatchUpPlan,
  PrimarySession,
  type ReplicationStream,
  type SessionOwner,
} from './primary-session.js';
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

type Waiter = { resolve: (lsn: Lsn) => void; reject: (err: Error) => void; sinceMs: number };

type PrimaryRun = {
  config: PartitionConfiguration;
  addresses: NodeAddressBook;
  core: PrimaryCore;
  sessions: Map<NodeId, PrimarySession>;
  waiters: Map<Lsn, Waiter>;
  barrierLsn: Lsn;
  barrierApplied: Promise<void>;
  resolveBarrier: () => void;
  sweeper: NodeJS.Timeout;
};

/**
 * One partition's replica on this node: the pure log bookkeeping (core/) plus the disk
 * (PartitionStore, through the node's group-commit writer) plus, as primary, one
 * PrimarySession per secondary. The secondary side of the stream lives in SecondaryRole.
 */
export class Replica implements ReplicatedStore {
  readonly partition: PartitionId;
  readonly self: NodeId;
  role: ReplicaRole = 'none';
  readonly log: ReplicaLogState;
  readonly cache: EntryCache;
  readonly secondary: SecondaryRole;
  private run: PrimaryRun | null = null;
  get primaryEpoch(): number | null {
    return this.run ? this.run.core.epoch : null;
  }
  private leaseValidUntilMs = Number.POSITIVE_INFINITY;
  /** Bumped whenever the log is cut or replaced, so late disk callbacks of the old log are ignored. */
  generation = 0;
  private applying: Promise<void> | null = null;
  private compacting = false;
  /** Secondary: lowest LSN every replica persisted, as told by the primary. */
  compactHintLsn: Lsn = 0;
  private closed = false;

  constructor(
    private readonly deps: ReplicaDeps,
    init: ReturnType<PartitionStore['load']> extends Promise<infer T> ? T : never,
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

  status(): ReplicaStatus {
    return {
      partition: this.partition,
      role: this.role,
      epoch: this.log.fencedEpoch,
      lastPersistedLsn: this.log.persistedLsn,
      committedLsn: this.run
        ? Math.max(this.run.core.commitLsn, this.log.committedLsn)
        : this.log.committedLsn,
      appliedLsn: this.log.appliedLsn,
      lastPersistedEpoch: this.log.lastPersistedEpoch,
    };
  }

  async fence(epoch: number): Promise<FenceResult> {
    this.assertOpen();
    const result = this.log.fence(epoch);
    await this.deps.store.writer.write([this.deps.store.fenceOp(this.log.fencedEpoch)]);
    if (this.run && this.run.core.epoch < this.log.fencedEpoch) this.stepDown(`fenced at epoch ${epoch}`);
    this.secondary.dropStreamsBelow(this.log.fencedEpoch);
    // report what is on disk now (appends in flight have landed by the time the fence write did)
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

  async becomePrimary(config: PartitionConfiguration, addresses: NodeAddressBook): Promise<void> {
    this.assertOpen();
    if (this.run && this.run.core.epoch === config.epoch) {
      this.reconfigure(config, addresses);
      return;
    }
    await this.raiseEpoch(config.epoch);
    this.secondary.dropStreamsBelow(Number.POSITIVE_INFINITY);
    if (this.run) this.stepDown('a new primary epoch');
    // Drop own operations of older epochs above what the failover manager decided to keep.
    const keep = Math.max(config.previousEpochLastLsn, this.log.appliedLsn);
    if (this.log.lastLsn > keep && this.log.lastEpoch < config.epoch) await this.truncate(keep);
    const voters = config.replicas.filter((n) => !config.building.includes(n));
    const core = new PrimaryCore({
      partition: this.partition,
      epoch: config.epoch,
      self: this.self,
      voters: voters.includes(this.self) ? voters : [...voters, this.self],
      lastLsn: this.log.lastLsn,
      committedLsn: this.log.committedLsn,
      maxQueueOps: this.deps.options.maxQueueOps,
    });
    let resolveBarrier!: () => void;
    const barrierApplied = new Promise<void>((r) => (resolveBarrier = r));
    const run: PrimaryRun = {
      config,
      addresses,
      core,
      sessions: new Map(),
      waiters: new Map(),
      barrierLsn: 0,
      barrierApplied,
      resolveBarrier,
      sweeper: setInterval(() => this.sweepTimeouts(), 200),
    };
    run.sweeper.unref?.();
    this.run = run;
    this.role = 'primary';
    // The epoch barrier: an empty operation that commits everything kept from older epochs.
    run.barrierLsn = this.propose(run, []).lsn;
    this.reconfigure(config, addresses);
    this.deps.logger.info(
      { partition: this.partition, epoch: config.epoch, lastLsn: this.log.lastLsn },
      'became primary',
    );
  }

  /** Same epoch, new replica set (a built replica promoted, a replica dropped). */
  private reconfigure(config: PartitionConfiguration, addresses: NodeAddressBook): void {
    const run = this.run!;
    run.config = config;
    run.addresses = addresses;
    const others = new Set([...config.replicas, ...config.building].filter((n) => n !== this.self));
    for (const [node, session] of run.sessions) {
      if (!others.has(node)) {
        session.close();
        run.sessions.delete(node);
        run.core.forget(node);
      }
    }
    for (const node of others) {
      if (run.sessions.has(node)) continue;
      const session = new PrimarySession(
        node,
        this.sessionOwner(run),
        () => {
          const address = run.addresses(node);
          return address ? this.deps.openStream(address) : null;
        },
        this.deps.options,
        this.deps.clock,
        this.deps.logger,
      );
      run.sessions.set(node, session);
      session.start();
    }
    const voters = config.replicas.filter((n) => !config.building.includes(n));
    if (!voters.includes(this.self)) voters.push(this.self);
    const commit = run.core.setVoters(voters);
    if (commit !== null) this.onCommitted(commit);
  }

  async becomeSecondary(config: PartitionConfiguration): Promise<void> {
    this.assertOpen();
    await this.raiseEpoch(config.epoch);
    if (this.run) this.stepDown('now a secondary');
    this.secondary.dropStreamsBelow(config.epoch);
    this.role = config.building.includes(this.self) ? 'idle-secondary' : 'active-secondary';
  }

  async demote(): Promise<void> {
    if (this.run) this.stepDown('demoted');
    this.secondary.dropStreamsBelow(Number.POSITIVE_INFINITY);
    this.role = 'none';
  }

  setLeaseValidUntil(validUntilMs: number): void {
    this.leaseValidUntilMs = validUntilMs;
  }

  async replicate(operations: readonly Uint8Array[]): Promise<Lsn> {
    const run = this.writableRun();
    return new Promise<Lsn>((resolve, reject) => {
      const { lsn } = this.propose(run, operations);
      run.waiters.set(lsn, { resolve, reject, sinceMs: this.deps.clock.now() });
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    await this.readable();
    return this.deps.store.get(key);
  }

  async scan(range: StateRange): Promise<Array<[string, Uint8Array]>> {
    await this.readable();
    return this.deps.store.scan(range);
  }

  /** Primary only: how each secondary is doing. */
  progress(): SecondaryProgress[] {
    const run = this.run;
    if (!run) return [];
    return [...run.sessions.values()].map((s) => ({
      node: s.node,
      connected: s.connected,
      persistedLsn: run.core.persistedBy(s.node),
      copying: s.copying,
      caughtUp: s.connected && !s.copying && run.core.persistedBy(s.node) >= run.core.commitLsn,
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.demote();
    this.closed = true;
    await this.applying;
  }

  // ---- primary internals ----

  private assertOpen(): void {
    if (this.closed) throw notPrimary(this.partition, 'the replica is closed');
  }

  private checkLease(): void {
    const now = this.deps.clock.now();
    if (now >= this.leaseValidUntilMs) {
      throw new ReplicationError(
        'MF_LEASE_EXPIRED',
        `node lease expired ${now - this.leaseValidUntilMs} ms ago; the primary of ${this.partition} has stepped down until its membership lease is renewed`,
        { partition: this.partition, validUntilMs: this.leaseValidUntilMs },
      );
    }
  }

  private writableRun(): PrimaryRun {
    this.assertOpen();
    const run = this.run;
    if (!run || this.role !== 'primary') throw notPrimary(this.partition, `role is ${this.role}`);
    this.checkLease();
    const now = this.deps.clock.now();
    let reachable = 1;
    for (const session of run.sessions.values()) {
      if (!run.core.isVoter(session.node)) continue;
      if (session.connected || now - session.disconnectedSinceMs < this.deps.options.quorumLossGraceMs)
        reachable++;
    }
    const needed = quorumSize(run.core.voterCount);
    if (reachable < needed) {
      throw new ReplicationError(
        'MF_QUORUM_LOSS',
        `partition ${this.partition} has lost its write quorum: ${reachable} of ${run.core.voterCount} replicas reachable, ${needed} needed; writes are refused until replicas return`,
        { partition: this.partition, reachable, needed },
      );
    }
    return run;
  }

  private async readable(): Promise<void> {
    const run = this.run;
    if (!run || this.role !== 'primary')
      throw notPrimary(this.partition, `role is ${this.role}; reads go to the primary`);
    this.checkLease();
    await run.barrierApplied;
    if (this.run !== run) throw notPrimary(this.partition, 'stepped down while reading');
  }

  private propose(run: PrimaryRun, ops: readonly Uint8Array[]): { lsn: Lsn } {
    const header = run.core.propose();
    const entry: LogEntry = { lsn: header.lsn, epoch: header.epoch, ops: [...ops] };
    const historyBefore = this.log.history;
    this.log.append([entry]);
    this.cache.add(entry);
    const writes = this.deps.store.logOps([entry]);
    if (historyChanged(historyBefore, this.log.history))
      writes.push(this.deps.store.historyOp(this.log.history));
    const generation = this.generation;
    this.deps.store.writer.write(writes).then(
      () => {
        if (generation !== this.generation) return;
        this.log.markPersisted(entry.lsn);
        if (this.run === run) {
          run.core.onPersisted(this.self, entry.lsn);
          this.onCommitted(run.core.commitLsn);
        }
      },
      (err: unknown) => this.failDisk(err),
    );
    for (const session of run.sessions.values()) session.notify();
    return { lsn: header.lsn };
  }

  private onCommitted(commitLsn: Lsn): void {
    const before = this.log.committedLsn;
    if (this.log.advanceCommit(commitLsn) > before) this.scheduleApply();
    if (this.run) for (const session of this.run.sessions.values()) session.notify();
  }

  private sessionOwner(run: PrimaryRun): SessionOwner {
    const replica = this;
    return {
      partition: this.partition,
      self: this.self,
      epoch: run.core.epoch,
      get lastLsn() {
        return run.core.lastLsn;
      },
      get commitLsn() {
        return run.core.commitLsn;
      },
      get compactBelowLsn() {
        return run.core.compactableBelow([...run.config.replicas, ...run.config.building]);
      },
      get history() {
        return replica.log.history;
      },
      plan: (hello) => this.plan(hello),
      entriesRange: (from, to) => this.entriesRange(from, to),
      stateSnapshot: () => this.deps.store.stateSnapshot(),
      onAck: (node, persistedLsn) => {
        if (this.run !== run) return;
        const commit = run.core.onPersisted(node, persistedLsn);
        if (commit !== null) this.onCommitted(commit);
      },
      onDeposed: (node, message) => {
        if (this.run === run) this.stepDown(`secondary ${node} refused: ${message}`);
      },
    };
  }

  private plan(hello: HelloMessage): CatchUpPlan {
    const keep = agreementLsn(
      { history: this.log.history, lastLsn: this.log.lastLsn },
      { history: hello.history, lastLsn: hello.lastPersistedLsn },
    );
    if (hello.appliedLsn > keep) {
      this.deps.logger.error(
        { partition: this.partition, hello, keep },
        'secondary applied operations this log lacks; rebuilding it by copy',
      );
      return { kind: 'copy' };
    }
    if (keep + 1 < this.log.logStartLsn && !this.cache.has(keep + 1)) return { kind: 'copy' };
    return {
      kind: 'stream',
      fromLsn: keep + 1,
      truncateAfterLsn: keep < hello.lastPersistedLsn ? keep : null,
    };
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

  private sweepTimeouts(): void {
    const run = this.run;
    if (!run) return;
    const now = this.deps.clock.now();
    for (const [lsn, waiter] of run.waiters) {
      if (now - waiter.sinceMs < this.deps.options.writeTimeoutMs) break;
      run.waiters.delete(lsn);
      waiter.reject(
        new ReplicationError(
          'MF_NO_WRITE_QUORUM',
          `operation ${lsn} of ${this.partition} was not persisted by a majority within ${this.deps.options.writeTimeoutMs} ms; its outcome is unknown (it may still commit): retry idempotently`,
          { partition: this.partition, lsn },
        ),
      );
    }
  }

  /** Leaves the primary role: pending writes fail with MF_NOT_PRIMARY (their outcome is unknown). */
  stepDown(why: string): void {
    const run = this.run;
    if (!run) return;
    this.run = null;
    this.role = 'none';
    clearInterval(run.sweeper);
    for (const session of run.sessions.values()) session.close();
    const err = notPrimary(this.partition, why);
    for (const waiter of run.waiters.values()) waiter.reject(err);
    run.waiters.clear();
    this.deps.logger.info(
      { partition: this.partition, epoch: run.core.epoch, why },
      'stepped down as primary',
    );
  }

  private failDisk(err: unknown): void {
    this.deps.logger.fatal({ err, partition: this.partition }, 'replica log write failed; the replica stops');
    this.stepDown('its disk failed');
    this.closed = true;
  }

  // ---- shared by both roles ----

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

  /** Resolves once no apply is running (copies replace the state underneath it). */
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
        this.afterApplied(toLsn);
      }
    } catch (err) {
      this.deps.logger.error({ err, partition: this.partition }, 'applying committed operations failed');
    }
  }

  private afterApplied(appliedLsn: Lsn): void {
    const run = this.run;
    if (run) {
      for (const [lsn, waiter] of run.waiters) {
        if (lsn > appliedLsn) break;
        run.waiters.delete(lsn);
        waiter.resolve(lsn);
      }
      if (appliedLsn >= run.barrierLsn) run.resolveBarrier();
      let lowestNeeded = appliedLsn + 1;
      for (const session of run.sessions.values()) {
        if (session.connected) lowestNeeded = Math.min(lowestNeeded, session.nextLsn);
      }
      this.cache.releaseBelow(lowestNeeded);
    } else {
      this.cache.releaseBelow(appliedLsn + 1);
    }
  }

  private async maybeCompact(): Promise<void> {
    if (this.compacting || this.closed) return;
    const options = this.deps.options;
    let below = this.run
      ? this.run.core.compactableBelow([...this.run.config.replicas, ...this.run.config.building])
      : this.compactHintLsn;
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

  historySnapshot(): EpochHistory {
    return this.log.history;
  }
}
