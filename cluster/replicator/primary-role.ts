import type { Lsn, NodeAddressBook, NodeId, PartitionConfiguration } from './contract.js';
import { agreementLsn, historyChanged } from './core/epoch-history.js';
import { PrimaryCore } from './core/primary-core.js';
import { quorumSize } from './core/quorum.js';
import type { LogEntry } from './disk/partition-store.js';
import { notPrimary, ReplicationError } from './errors.js';
import type { HelloMessage } from './grpc/wire.js';
import { type CatchUpPlan, PrimarySession, type SessionOwner } from './primary-session.js';
import type { Replica, ReplicaDeps } from './replica.js';
import type { SecondaryProgress } from './store-api.js';

type Waiter = { resolve: (lsn: Lsn) => void; reject: (err: Error) => void; sinceMs: number };

function voterSet(config: PartitionConfiguration, self: NodeId): NodeId[] {
  const voters = config.replicas.filter((n) => !config.building.includes(n));
  if (!voters.includes(self)) voters.push(self);
  return voters;
}

/**
 * One epoch as primary of one partition: assigns LSNs (PrimaryCore), appends to the local
 * log (operations proposed in the same tick share one write request), streams to every
 * secondary (one PrimarySession each), and resolves each write once it is committed and
 * applied. Ends with stop(): pending writes then fail with MF_NOT_PRIMARY.
 */
export class PrimaryRole {
  readonly core: PrimaryCore;
  private config: PartitionConfiguration;
  private addresses: NodeAddressBook;
  private readonly sessions = new Map<NodeId, PrimarySession>();
  private readonly waiters = new Map<Lsn, Waiter>();
  readonly barrierLsn: Lsn;
  readonly barrierApplied: Promise<void>;
  /** Everything taken over from older epochs is committed and applied: reads may be served. */
  barrierDone = false;
  private resolveBarrier!: () => void;
  private rejectBarrier!: (err: Error) => void;
  private readonly sweeper: NodeJS.Timeout;
  private pendingAppends: LogEntry[] = [];
  /** Operation bytes of each uncommitted entry, and their sum (bounded by maxQueueBytes). */
  private readonly uncommittedBytes = new Map<Lsn, number>();
  private queuedBytes = 0;
  private historyWritten;
  private stopped = false;

  constructor(
    private readonly replica: Replica,
    private readonly deps: ReplicaDeps,
    config: PartitionConfiguration,
    addresses: NodeAddressBook,
  ) {
    this.config = config;
    this.addresses = addresses;
    this.historyWritten = replica.log.history;
    this.core = new PrimaryCore({
      partition: replica.partition,
      epoch: config.epoch,
      self: replica.self,
      voters: voterSet(config, replica.self),
      lastLsn: replica.log.lastLsn,
      committedLsn: replica.log.committedLsn,
      maxQueueOps: deps.options.maxQueueOps,
    });
    this.barrierApplied = new Promise<void>((resolve, reject) => {
      this.resolveBarrier = resolve;
      this.rejectBarrier = reject;
    });
    this.barrierApplied.catch(() => {}); // readers see the rejection; nobody else must
    this.sweeper = setInterval(() => this.sweepTimeouts(), 200);
    this.sweeper.unref?.();
    // The epoch barrier: an empty operation of this epoch; older operations commit with it.
    this.barrierLsn = this.propose([]);
    this.reconfigure(config, addresses);
  }

  get epoch(): number {
    return this.core.epoch;
  }

  /** Uncommitted operations and their bytes (the replication queue). */
  queue(): { ops: number; bytes: number } {
    return { ops: this.core.queuedOps, bytes: this.queuedBytes };
  }

  /** Same epoch, new replica set: sessions to added replicas, none to removed ones. */
  reconfigure(config: PartitionConfiguration, addresses: NodeAddressBook): void {
    this.config = config;
    this.addresses = addresses;
    const others = new Set([...config.replicas, ...config.building].filter((n) => n !== this.replica.self));
    for (const [node, session] of this.sessions) {
      if (others.has(node)) continue;
      session.close();
      this.sessions.delete(node);
      this.core.forget(node);
    }
    for (const node of others) {
      if (this.sessions.has(node)) continue;
      const session = new PrimarySession(
        node,
        this.sessionOwner(),
        () => {
          const address = this.addresses(node);
          return address ? this.deps.openStream(address) : null;
        },
        this.deps.options,
        this.deps.clock,
        this.deps.logger,
      );
      this.sessions.set(node, session);
      session.start();
    }
    const commit = this.core.setVoters(voterSet(config, this.replica.self));
    if (commit !== null) this.onCommitted(commit);
  }

  /** Refuses at once (nothing appended) when a majority of voters has been unreachable too long. */
  checkQuorumReachable(): void {
    const now = this.deps.clock.now();
    let reachable = 1;
    for (const session of this.sessions.values()) {
      if (!this.core.isVoter(session.node)) continue;
      if (session.connected || now - session.disconnectedSinceMs < this.deps.options.quorumLossGraceMs)
        reachable++;
    }
    const needed = quorumSize(this.core.voterCount);
    if (reachable < needed) {
      throw new ReplicationError(
        'MF_QUORUM_LOSS',
        `partition ${this.replica.partition} has lost its write quorum: ${reachable} of ${this.core.voterCount} replicas reachable, ${needed} needed; writes are refused until replicas return`,
        { partition: this.replica.partition, reachable, needed },
      );
    }
  }

  replicate(ops: readonly Uint8Array[]): Promise<Lsn> {
    return new Promise<Lsn>((resolve, reject) => {
      const lsn = this.propose(ops);
      this.waiters.set(lsn, { resolve, reject, sinceMs: this.deps.clock.now() });
    });
  }

  private propose(ops: readonly Uint8Array[]): Lsn {
    let size = 0;
    for (const op of ops) size += op.length;
    const limit = this.deps.options.maxQueueBytes;
    if (this.queuedBytes > 0 && this.queuedBytes + size > limit) {
      throw new ReplicationError(
        'MF_REPLICATION_QUEUE_FULL',
        `replication queue of ${this.replica.partition} holds ${this.queuedBytes} uncommitted bytes (limit ${limit}); retry later`,
        { partition: this.replica.partition, queuedBytes: this.queuedBytes },
      );
    }
    const header = this.core.propose();
    this.uncommittedBytes.set(header.lsn, size);
    this.queuedBytes += size;
    const entry: LogEntry = { lsn: header.lsn, epoch: header.epoch, ops: [...ops] };
    this.replica.log.append([entry]);
    this.replica.cache.add(entry);
    this.pendingAppends.push(entry);
    if (this.pendingAppends.length === 1) queueMicrotask(() => this.flushAppends());
    for (const session of this.sessions.values()) session.notify();
    return header.lsn;
  }

  /** One write request for everything proposed this tick (the writer groups across partitions). */
  private flushAppends(): void {
    const entries = this.pendingAppends;
    this.pendingAppends = [];
    if (entries.length === 0) return;
    const store = this.replica.store;
    const log = this.replica.log;
    const writes = store.logOps(entries);
    if (historyChanged(this.historyWritten, log.history)) {
      writes.push(store.historyOp(log.history));
      this.historyWritten = log.history;
    }
    const lastLsn = entries[entries.length - 1]!.lsn;
    const generation = this.replica.generation;
    store.writer.write(writes).then(
      () => {
        if (generation !== this.replica.generation) return;
        log.markPersisted(lastLsn);
        if (this.stopped) return;
        this.core.onPersisted(this.replica.self, lastLsn);
        this.onCommitted(this.core.commitLsn);
      },
      (err: unknown) => this.replica.failDisk(err),
    );
  }

  private onCommitted(commitLsn: Lsn): void {
    for (const [lsn, size] of this.uncommittedBytes) {
      if (lsn > commitLsn) break;
      this.uncommittedBytes.delete(lsn);
      this.queuedBytes -= size;
    }
    const log = this.replica.log;
    const before = log.committedLsn;
    if (log.advanceCommit(commitLsn) > before) this.replica.scheduleApply();
    for (const session of this.sessions.values()) session.notify();
  }

  /** Called by the replica after applying: resolves the writes that are now visible. */
  onApplied(appliedLsn: Lsn): void {
    for (const [lsn, waiter] of this.waiters) {
      if (lsn > appliedLsn) break;
      this.waiters.delete(lsn);
      waiter.resolve(lsn);
    }
    if (appliedLsn >= this.barrierLsn && !this.barrierDone) {
      this.barrierDone = true;
      this.resolveBarrier();
    }
    let lowestNeeded = appliedLsn + 1;
    for (const session of this.sessions.values()) {
      if (session.connected) lowestNeeded = Math.min(lowestNeeded, session.nextLsn);
    }
    this.replica.cache.releaseBelow(lowestNeeded);
  }

  /** Below this every replica of the set has persisted the log. */
  compactableBelow(): Lsn {
    return this.core.compactableBelow([...this.config.replicas, ...this.config.building]);
  }

  progress(): SecondaryProgress[] {
    return [...this.sessions.values()].map((s) => ({
      node: s.node,
      connected: s.connected,
      persistedLsn: this.core.persistedBy(s.node),
      copying: s.copying,
      caughtUp: s.connected && !s.copying && this.core.persistedBy(s.node) >= this.core.commitLsn,
    }));
  }

  private sessionOwner(): SessionOwner {
    const role = this;
    const replica = this.replica;
    return {
      partition: replica.partition,
      self: replica.self,
      epoch: this.core.epoch,
      get lastLsn() {
        return role.core.lastLsn;
      },
      get commitLsn() {
        return role.core.commitLsn;
      },
      get compactBelowLsn() {
        return role.compactableBelow();
      },
      get history() {
        return replica.log.history;
      },
      plan: (hello) => this.plan(hello),
      entriesRange: (from, to) => replica.entriesRange(from, to),
      stateSnapshot: () => replica.store.stateSnapshot(),
      onAck: (node, persistedLsn) => {
        if (this.stopped) return;
        const commit = this.core.onPersisted(node, persistedLsn);
        if (commit !== null) this.onCommitted(commit);
      },
      onDeposed: (node, message) => {
        if (!this.stopped) replica.stepDown(`secondary ${node} refused: ${message}`);
      },
    };
  }

  private plan(hello: HelloMessage): CatchUpPlan {
    const log = this.replica.log;
    const keep = agreementLsn(
      { history: log.history, lastLsn: log.lastLsn },
      { history: hello.history, lastLsn: hello.lastPersistedLsn },
    );
    if (hello.appliedLsn > keep) {
      this.deps.logger.error(
        { partition: this.replica.partition, hello, keep },
        'secondary applied operations this log lacks; rebuilding it by copy',
      );
      return { kind: 'copy' };
    }
    if (keep + 1 < log.logStartLsn && !this.replica.cache.has(keep + 1)) return { kind: 'copy' };
    return {
      kind: 'stream',
      fromLsn: keep + 1,
      truncateAfterLsn: keep < hello.lastPersistedLsn ? keep : null,
    };
  }

  private sweepTimeouts(): void {
    if (this.replica.leaseExpired() && this.waiters.size > 0) {
      // The node may have been replaced while it could not renew its lease (paused, cut off):
      // pending writes go back to the caller to be retried on the current primary.
      const err = notPrimary(this.replica.partition, 'its membership lease expired');
      for (const waiter of this.waiters.values()) waiter.reject(err);
      this.waiters.clear();
      return;
    }
    const now = this.deps.clock.now();
    const timeoutMs = this.deps.options.writeTimeoutMs;
    for (const [lsn, waiter] of this.waiters) {
      if (now - waiter.sinceMs < timeoutMs) break;
      this.waiters.delete(lsn);
      waiter.reject(
        new ReplicationError(
          'MF_NO_WRITE_QUORUM',
          `operation ${lsn} of ${this.replica.partition} was not persisted by a majority within ${timeoutMs} ms; its outcome is unknown (it may still commit): retry idempotently`,
          { partition: this.replica.partition, lsn },
        ),
      );
    }
  }

  /** Ends this epoch's primary role; pending writes fail with MF_NOT_PRIMARY (outcome unknown). */
  stop(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    // entries already in the in-memory log still go to disk, so log and bookkeeping agree
    this.flushAppends();
    clearInterval(this.sweeper);
    for (const session of this.sessions.values()) session.close();
    const err = notPrimary(this.replica.partition, why);
    this.rejectBarrier(err);
    for (const waiter of this.waiters.values()) waiter.reject(err);
    this.waiters.clear();
  }
}
