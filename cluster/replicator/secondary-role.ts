import { MeterfabricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Lsn, NodeId } from './contract.js';
import { type EpochHistory, historyChanged } from './core/epoch-history.js';
import type { WriteOp } from './disk/group-commit.js';
import type { LogEntry, PartitionStore } from './disk/partition-store.js';
import { staleEpoch } from './errors.js';
import { ACK_BEFORE_PERSIST_FLUSH_MS, type ReplicationFaults } from './faults.js';
import type { HelloMessage, WireEntry, WireStateRecord } from './grpc/wire.js';
import type { Replica } from './replica.js';

type InboundStream = { token: number; epoch: number; primary: NodeId; close: () => void };

/**
 * The secondary side of a replication stream: accepts the stream of the current epoch's
 * primary only, persists (sync, through the group-commit writer) before acknowledging,
 * truncates false progress when told, rebuilds from a copy, and applies what is committed.
 */
export class SecondaryRole {
  private stream: InboundStream | null = null;
  private nextToken = 0;
  private pendingCommitLsn: Lsn = 0;
  private copyStarted = false;
  /** Times this replica was rebuilt from a copy (status, tests). */
  copiesCompleted = 0;
  /**
   * TEST-ONLY (ack-before-persist): batches acknowledged but not yet handed to the disk
   * writer, oldest first. Always empty without the fault.
   */
  private lazyBatches: Array<{ writes: WriteOp[]; lastLsn: Lsn; generation: number }> = [];
  private lazyTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly replica: Replica,
    private readonly store: PartitionStore,
    private readonly faults: ReplicationFaults,
    private readonly logger: Logger,
  ) {}

  /** Ends an inbound stream of an epoch older than `epoch` (a newer configuration exists). */
  dropStreamsBelow(epoch: number): void {
    this.flushLazy();
    if (this.stream && this.stream.epoch < epoch) {
      this.stream.close();
      this.stream = null;
    }
  }

  detach(token: number): void {
    if (this.stream?.token === token) this.stream = null;
  }

  async accept(
    epoch: number,
    primary: NodeId,
    close: () => void,
  ): Promise<{ token: number; hello: HelloMessage }> {
    const log = this.replica.log;
    log.checkEpoch(epoch);
    this.flushLazy();
    const primaryEpoch = this.replica.primaryEpoch;
    if (primaryEpoch !== null) {
      if (primaryEpoch >= epoch && !this.faults.skipEpochFencing) {
        throw staleEpoch(this.replica.partition, epoch, primaryEpoch);
      }
      this.replica.stepDown(`primary ${primary} of epoch ${epoch} took over`);
    }
    await this.replica.raiseEpoch(epoch);
    this.stream?.close();
    const token = ++this.nextToken;
    this.stream = { token, epoch, primary, close };
    this.copyStarted = false;
    if (this.replica.role !== 'idle-secondary') this.replica.role = 'active-secondary';
    // everything appended by earlier streams is on disk once this empty write lands
    await this.store.writer.write([]);
    log.markPersisted(log.lastLsn);
    return {
      token,
      hello: {
        fencedEpoch: log.fencedEpoch,
        lastPersistedLsn: log.persistedLsn,
        appliedLsn: log.appliedLsn,
        logStartLsn: log.logStartLsn,
        history: [...log.history],
      },
    };
  }

  private check(token: number, epoch: number): InboundStream {
    const stream = this.stream;
    this.replica.log.checkEpoch(epoch);
    if (!stream || stream.token !== token) {
      // not a newer epoch: this end was closed locally (demoted, replaced): the primary reconnects
      throw new MeterfabricError(
        'MF_STREAM_CLOSED',
        `replication stream of ${this.replica.partition} was closed here; reconnect`,
      );
    }
    if (epoch !== stream.epoch && !this.faults.skipEpochFencing) {
      throw staleEpoch(this.replica.partition, epoch, stream.epoch);
    }
    return stream;
  }

  /**
   * Appends a batch and resolves with the highest persisted LSN once it is on disk (or at
   * once, with the test-only ack-before-persist fault).
   */
  receive(
    token: number,
    message: { epoch: number; entries: WireEntry[]; commitLsn: Lsn; compactBelowLsn: Lsn },
  ): Promise<Lsn> {
    this.check(token, message.epoch);
    const replica = this.replica;
    const log = replica.log;
    this.pendingCommitLsn = Math.max(this.pendingCommitLsn, message.commitLsn);
    replica.compactHintLsn = Math.max(replica.compactHintLsn, message.compactBelowLsn);
    if (message.entries.length === 0) {
      this.advanceCommit();
      return Promise.resolve(log.persistedLsn);
    }
    const entries: LogEntry[] = message.entries.map((e) => ({ lsn: e.lsn, epoch: e.epoch, ops: e.ops }));
    const historyBefore = log.history;
    log.append(entries);
    for (const entry of entries) replica.cache.add(entry);
    const writes = this.store.logOps(entries);
    if (historyChanged(historyBefore, log.history)) writes.push(this.store.historyOp(log.history));
    const lastLsn = entries[entries.length - 1]!.lsn;
    const generation = replica.generation;
    if (this.faults.ackBeforePersist) {
      // TEST-ONLY fault: acknowledge now, write at the next lazy flush.
      this.lazyBatches.push({ writes, lastLsn, generation });
      this.lazyTimer ??= setTimeout(() => this.flushLazy(), ACK_BEFORE_PERSIST_FLUSH_MS);
      return Promise.resolve(lastLsn);
    }
    return this.persist(writes, lastLsn, generation);
  }

  /** Writes a received batch; resolves with the highest persisted LSN once it is on disk. */
  private persist(writes: WriteOp[], lastLsn: Lsn, generation: number): Promise<Lsn> {
    const replica = this.replica;
    const log = replica.log;
    return this.store.writer.write(writes).then(() => {
      if (generation === replica.generation) {
        log.markPersisted(lastLsn);
        this.advanceCommit();
      }
      return log.persistedLsn;
    });
  }

  /**
   * TEST-ONLY (ack-before-persist): hands every lazily held batch to the disk writer, in
   * order. Submission to the writer is synchronous, so a write issued after this call lands
   * after them. A no-op without the fault.
   */
  flushLazy(): void {
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = null;
    for (const batch of this.lazyBatches.splice(0)) {
      this.persist(batch.writes, batch.lastLsn, batch.generation).catch((err: unknown) =>
        this.logger.error({ err, partition: this.replica.partition }, 'lazy log write failed'),
      );
    }
  }

  private advanceCommit(): void {
    const log = this.replica.log;
    const before = log.committedLsn;
    if (log.advanceCommit(this.pendingCommitLsn) > before) this.replica.scheduleApply();
  }

  async truncate(token: number, epoch: number, keepThroughLsn: Lsn): Promise<Lsn> {
    this.check(token, epoch);
    this.flushLazy(); // the cut lands after whatever was acknowledged before it
    await this.replica.truncate(keepThroughLsn);
    return this.replica.log.persistedLsn;
  }

  async copyChunk(token: number, epoch: number, records: WireStateRecord[]): Promise<void> {
    this.check(token, epoch);
    this.flushLazy();
    if (!this.copyStarted) await this.beginCopy();
    await this.store.writer.write(this.store.copyRecordOps(records));
  }

  async copyEnd(token: number, epoch: number, copyLsn: Lsn, history: EpochHistory): Promise<Lsn> {
    this.check(token, epoch);
    this.flushLazy();
    if (!this.copyStarted) await this.beginCopy();
    await this.store.writer.write(this.store.endCopyOps(copyLsn, history));
    this.replica.log.resetToCopy(copyLsn, history);
    this.replica.cache.clear(copyLsn + 1);
    this.replica.role = 'active-secondary';
    this.copyStarted = false;
    this.copiesCompleted += 1;
    this.logger.info({ partition: this.replica.partition, copyLsn }, 'built from a copy');
    return copyLsn;
  }

  private async beginCopy(): Promise<void> {
    this.copyStarted = true;
    this.replica.role = 'idle-secondary';
    this.replica.generation++;
    await this.replica.applyIdle();
    await this.store.beginCopy();
    // The log and state on disk are gone: if this copy is interrupted, the next hello must
    // say "empty" so the primary copies (or streams from LSN 1) again.
    this.replica.log.resetEmpty();
    this.replica.cache.clear(1);
  }
}
