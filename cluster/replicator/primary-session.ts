import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Lsn, NodeId, PartitionId } from './contract.js';
import type { EpochHistory } from './core/epoch-history.js';
import type { LogEntry } from './disk/partition-store.js';
import type { HelloMessage, PrimaryMessage, SecondaryMessage, WireStateRecord } from './grpc/wire.js';
import type { ReplicatorOptions } from './options.js';

export type ReplicationStream = ClientDuplexStream<PrimaryMessage, SecondaryMessage>;

/** How a secondary's log is brought in line with the primary's after it says hello. */
export type CatchUpPlan = { kind: 'stream'; fromLsn: Lsn; truncateAfterLsn: Lsn | null } | { kind: 'copy' };

/** What a session needs from the primary replica that owns it. */
export interface SessionOwner {
  readonly partition: PartitionId;
  readonly self: NodeId;
  readonly epoch: number;
  readonly lastLsn: Lsn;
  readonly commitLsn: Lsn;
  readonly compactBelowLsn: Lsn;
  readonly history: EpochHistory;
  plan(hello: HelloMessage): CatchUpPlan;
  entriesRange(fromLsn: Lsn, toLsn: Lsn): LogEntry[] | Promise<LogEntry[]>;
  stateSnapshot(): AsyncIterable<[string, Uint8Array]>;
  onAck(node: NodeId, persistedLsn: Lsn): void;
  /** A secondary refused this primary's epoch: it has been replaced. */
  onDeposed(node: NodeId, message: string): void;
}

/**
 * The primary's end of one secondary's replication stream: says hello, brings the secondary
 * in line (truncate or copy), then streams the log, batching whatever is queued into one
 * message (group commit on the wire). Reconnects with backoff until closed.
 */
export class PrimarySession {
  connected = false;
  copying = false;
  disconnectedSinceMs: number;
  ackedLsn: Lsn = 0;
  /** Next LSN to send; entries below it are in flight or acknowledged. */
  nextLsn: Lsn = 0;
  private call: ReplicationStream | null = null;
  private generation = 0;
  private streaming = false;
  private pumping = false;
  private pumpScheduled = false;
  private sentCommitLsn: Lsn = 0;
  private closed = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private commitNoticeTimer: NodeJS.Timeout | null = null;
  /** Commit-only messages sent (for tests and the benchmark). */
  commitNotices = 0;
  private drainWaiter: (() => void) | null = null;

  constructor(
    readonly node: NodeId,
    private readonly owner: SessionOwner,
    private readonly open: () => ReplicationStream | null,
    private readonly options: ReplicatorOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.disconnectedSinceMs = clock.now();
    this.backoffMs = options.reconnectMinMs;
  }

  start(): void {
    this.connect();
  }

  /** New entries or a new commit LSN: send them soon, together with whatever else arrives this tick. */
  notify(): void {
    if (this.pumpScheduled || !this.streaming) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  close(): void {
    this.closed = true;
    this.disconnect();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.commitNoticeTimer) clearTimeout(this.commitNoticeTimer);
    this.commitNoticeTimer = null;
  }

  private connect(): void {
    if (this.closed) return;
    let call: ReplicationStream | null;
    try {
      call = this.open();
    } catch (err) {
      this.scheduleReconnect(`cannot open a stream: ${String(err)}`);
      return;
    }
    if (!call) {
      this.scheduleReconnect('no address known for the node');
      return;
    }
    const generation = ++this.generation;
    this.call = call;
    call.on('data', (message: SecondaryMessage) => {
      if (generation === this.generation) void this.onMessage(message, generation);
    });
    call.on('error', (err: Error) => this.onBroken(generation, err.message));
    call.on('end', () => this.onBroken(generation, 'stream ended'));
    call.on('drain', () => {
      const waiter = this.drainWaiter;
      this.drainWaiter = null;
      waiter?.();
    });
    call.write({
      start: { partition: this.owner.partition, epoch: this.owner.epoch, primaryNode: this.owner.self },
    });
  }

  private disconnect(): void {
    this.generation++;
    if (this.commitNoticeTimer) clearTimeout(this.commitNoticeTimer);
    this.commitNoticeTimer = null;
    this.streaming = false;
    this.copying = false;
    if (this.connected) this.disconnectedSinceMs = this.clock.now();
    this.connected = false;
    const call = this.call;
    this.call = null;
    if (call) {
      call.removeAllListeners('data');
      call.on('error', () => {});
      call.cancel();
    }
    const waiter = this.drainWaiter;
    this.drainWaiter = null;
    waiter?.();
  }

  private onBroken(generation: number, why: string): void {
    if (generation !== this.generation) return;
    this.logger.debug({ node: this.node, partition: this.owner.partition, why }, 'replication stream broken');
    this.disconnect();
    this.scheduleReconnect(why);
  }

  private scheduleReconnect(why: string): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.options.reconnectMaxMs, this.backoffMs * 2);
    this.logger.debug({ node: this.node, partition: this.owner.partition, why, delay }, 'reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  private async onMessage(message: SecondaryMessage, generation: number): Promise<void> {
    try {
      if ('hello' in message && message.hello) {
        await this.catchUp(message.hello, generation);
      } else if ('ack' in message && message.ack) {
        if (message.ack.epoch !== this.owner.epoch) return;
        this.ackedLsn = Math.max(this.ackedLsn, message.ack.persistedLsn);
        this.owner.onAck(this.node, message.ack.persistedLsn);
        this.notify();
      } else if ('refused' in message && message.refused) {
        const { code, message: text } = message.refused;
        this.logger.warn(
          { node: this.node, partition: this.owner.partition, code, text },
          'secondary refused',
        );
        if (code === 'MF_STALE_EPOCH') {
          this.disconnect();
          this.owner.onDeposed(this.node, text);
          return;
        }
        this.onBroken(generation, `${code}: ${text}`);
      }
    } catch (err) {
      this.logger.error(
        { err, node: this.node, partition: this.owner.partition },
        'replication session failed',
      );
      this.onBroken(generation, String(err));
    }
  }

  private async catchUp(hello: HelloMessage, generation: number): Promise<void> {
    const plan = this.owner.plan(hello);
    this.connected = true;
    this.backoffMs = this.options.reconnectMinMs;
    if (plan.kind === 'copy') {
      await this.copy(generation);
      return;
    }
    if (plan.truncateAfterLsn !== null) {
      this.send({ truncate: { epoch: this.owner.epoch, keepThroughLsn: plan.truncateAfterLsn } });
    }
    this.nextLsn = plan.fromLsn;
    this.ackedLsn = plan.fromLsn - 1;
    this.sentCommitLsn = 0;
    this.streaming = true;
    this.notify();
  }

  /** Builds the secondary from a consistent snapshot of the state, then streams the log after it. */
  private async copy(generation: number): Promise<void> {
    this.copying = true;
    let copyLsn: Lsn = 0;
    let records: WireStateRecord[] = [];
    let bytes = 0;
    const decoder = new TextDecoder();
    for await (const [key, value] of this.owner.stateSnapshot()) {
      if (generation !== this.generation) return;
      if (key === 'S:applied') copyLsn = JSON.parse(decoder.decode(value)) as number;
      records.push({ key, value });
      bytes += key.length + value.length;
      if (bytes >= this.options.copyChunkBytes) {
        await this.sendAndWait({ copyChunk: { epoch: this.owner.epoch, records } });
        records = [];
        bytes = 0;
      }
    }
    if (generation !== this.generation) return;
    if (records.length > 0) await this.sendAndWait({ copyChunk: { epoch: this.owner.epoch, records } });
    const history = this.owner.history.filter((s) => s.firstLsn <= copyLsn);
    this.send({ copyEnd: { epoch: this.owner.epoch, copyLsn, history } });
    this.logger.info({ node: this.node, partition: this.owner.partition, copyLsn }, 'replica built by copy');
    this.copying = false;
    this.nextLsn = copyLsn + 1;
    this.ackedLsn = copyLsn;
    this.sentCommitLsn = 0;
    this.streaming = true;
    this.notify();
  }

  private send(message: PrimaryMessage): boolean {
    return this.call ? this.call.write(message) : false;
  }

  private async sendAndWait(message: PrimaryMessage): Promise<void> {
    if (!this.send(message) && this.call) await new Promise<void>((r) => (this.drainWaiter = r));
  }

  /**
   * A commit LSN alone is sent `commitNoticeDelayMs` later, unless an entries message carries
   * it first: the secondary only applies on it (no write waits for a secondary's apply), so
   * under load one notice per call per secondary, its ack and its apply write are saved.
   */
  private scheduleCommitNotice(): void {
    if (this.commitNoticeTimer) return;
    this.commitNoticeTimer = setTimeout(() => {
      this.commitNoticeTimer = null;
      const commitLsn = this.owner.commitLsn;
      if (!this.streaming || commitLsn <= this.sentCommitLsn) return;
      // Entries not yet sent go first (pump() carries the commit LSN with them).
      if (this.pumping || this.nextLsn <= this.owner.lastLsn) {
        this.notify();
        return;
      }
      this.send({
        entries: {
          epoch: this.owner.epoch,
          entries: [],
          commitLsn,
          compactBelowLsn: this.owner.compactBelowLsn,
        },
      });
      this.sentCommitLsn = commitLsn;
      this.commitNotices += 1;
    }, this.options.commitNoticeDelayMs);
    this.commitNoticeTimer.unref?.();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const generation = this.generation;
    try {
      while (this.streaming && generation === this.generation) {
        const lastLsn = this.owner.lastLsn;
        const room = this.options.maxInFlightEntries - (this.nextLsn - 1 - this.ackedLsn);
        if (this.nextLsn <= lastLsn && room > 0) {
          const toLsn = Math.min(lastLsn, this.nextLsn + Math.min(this.options.maxBatchEntries, room) - 1);
          const entries = boundedBatch(
            await this.owner.entriesRange(this.nextLsn, toLsn),
            this.options.maxMessageBytes,
          );
          if (!this.streaming || generation !== this.generation) break;
          if (entries.length === 0) throw new Error(`entries from LSN ${this.nextLsn} are not available`);
          const commitLsn = this.owner.commitLsn;
          const written = this.send({
            entries: {
              epoch: this.owner.epoch,
              entries,
              commitLsn,
              compactBelowLsn: this.owner.compactBelowLsn,
            },
          });
          this.nextLsn = entries[entries.length - 1]!.lsn + 1;
          this.sentCommitLsn = commitLsn;
          if (!written) await new Promise<void>((r) => (this.drainWaiter = r));
          continue;
        }
        if (this.owner.commitLsn > this.sentCommitLsn) this.scheduleCommitNotice();
        break;
      }
    } catch (err) {
      // e.g. the entries were compacted away meanwhile: reconnect, and the hello decides on a copy
      this.onBroken(generation, String(err));
    } finally {
      this.pumping = false;
    }
  }
}

/** The longest prefix of `entries` within `maxBytes` of operations (always at least one entry). */
export function boundedBatch(entries: LogEntry[], maxBytes: number): LogEntry[] {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    for (const op of entries[i]!.ops) bytes += op.length;
    if (bytes > maxBytes && i > 0) return entries.slice(0, i);
  }
  return entries;
}
