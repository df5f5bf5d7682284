import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeMeterReadingsMessagesBytes } from '../../adapters/cim/columnar-pool.js';
import { encodeEndDeviceEvents } from '../../adapters/cim/end-device-events.js';
import type { WorkerPool } from '../../cluster/pool/pool.js';
import type { Clock } from '../../core/clock.js';
import { CimBatchCommitter, type CimFileOps, type StagedBatch } from './cim-commit.js';
import {
  CheckpointExpiredError,
  deterministicUuid,
  messagePosition,
  type PublishedMessage,
} from './cim-message.js';
import { type RestoredWindow, restoreWindow } from './cim-window.js';
import type { OutputBatch } from './output-batch.js';
import { OrderFence, OutputOrderError } from './output-order.js';

export {
  CheckpointExpiredError,
  deterministicUuid,
  MAX_POSITION_SEQ,
  messagePosition,
  messageXml,
  POSITIONS_PER_SEQ,
  type PublishedMessage,
} from './cim-message.js';

/**
 * Publishes each output batch as CIM EventMessages (MeterReadings; EndDeviceEvents, one
 * message per CorrelationID) to files under `<out>/cim/<Noun>/` and to live subscribers.
 * A message's MessageID and file name derive from the batch's stream position, so a batch
 * replayed after a crash rewrites the same files and is not announced twice.
 *
 * Positions are global, not per process: a message's position is `seq * 2^20 + index + 1`
 * (seq: the batch's replicated stream position; index: the message's place in the batch), so a
 * replayed batch has the same positions in every process and positions only grow. They are
 * sparse: a subscriber must not do arithmetic on them.
 */

const utf8Encoder = new TextEncoder();

export type CimPublisherOptions = {
  outDir?: string;
  source: string;
  clock: Clock;
  /** Messages kept for subscribers that resume; older checkpoints get MF_CHECKPOINT_EXPIRED. */
  maxRetainedMessages?: number;
  /** ...and at most this many bytes of XML among them (a message can carry 5,000 readings). */
  maxRetainedBytes?: number;
  /** Readings per MeterReadings message (bounded message size). */
  maxReadingsPerMessage?: number;
  /** The node's worker pool: MeterReadings messages are encoded there (same bytes), inline without. */
  pool?: Pick<WorkerPool, 'runPipelined' | 'threads'>;
  /** The file operations behind `outDir` (default node:fs/promises); tests record or fail them. */
  fileOps?: CimFileOps;
};

type Listener = (m: PublishedMessage) => void;

export class CimPublisher {
  private readonly retained: PublishedMessage[] = [];
  private retainedBytes = 0;
  /** Makes each batch's files and log line durable before it counts as published (cim-commit.ts). */
  private readonly committer: CimBatchCommitter | undefined;
  private readonly listeners = new Set<Listener>();
  /** Overlapping publish calls write and announce one batch at a time, in call order. */
  private ordered: Promise<unknown> = Promise.resolve();
  private lastSeq = -1;
  /** Highest seq whose files are written (announced or waiting for its commit): a replay racing it is skipped. */
  private stagedSeq = -1;
  /** The commit of the batch staged last (a racing replay resolves with it). */
  private lastCommit: Promise<unknown> = Promise.resolve();
  private position = 0;
  private published = 0;
  /** Highest seq found among the CIM files of an earlier process (restoreFromDisk). */
  private diskSeq = -1;
  private diskLastPosition = 0;
  /**
   * Checkpoints below this are not served: a message after them was dropped from the retained
   * window, or was published by an earlier process (its files are on disk, not in memory).
   */
  private servedFrom = 0;
  /** Positions of dropped messages (bounded), to count what an expired checkpoint misses. */
  private dropped: number[] = [];
  /** After a seq failed, later seqs are refused until it is published again (output-order.ts). */
  private readonly fence = new OrderFence('the CIM messages');
  private droppedRecordTrimmed = false;
  readonly countsByNoun: Record<string, number> = {};

  constructor(private readonly options: CimPublisherOptions) {
    this.committer = options.outDir ? new CimBatchCommitter(options.outDir, options.fileOps) : undefined;
  }

  /** A publisher over `outDir` that has restored what an earlier process wrote there (restoreFromDisk). */
  static async open(options: CimPublisherOptions): Promise<CimPublisher> {
    const publisher = new CimPublisher(options);
    await publisher.restoreFromDisk();
    return publisher;
  }

  /** Position of the last message published (0 if none), or found on disk by restoreFromDisk. */
  get lastPosition(): number {
    return this.position;
  }

  /** The highest batch seq published by this process or found on disk (-1 if none). */
  get lastPublishedSeq(): number {
    return Math.max(this.lastSeq, this.diskSeq);
  }

  /** Batches committed to disk by this process, in how many commits (group commit: commits < batches). */
  get commits(): { batches: number; commits: number } {
    return this.committer?.commits ?? { batches: 0, commits: 0 };
  }

  /** Messages published by this process. */
  get publishedCount(): number {
    return this.published;
  }

  /**
   * In a fresh process: finds the last message an earlier process wrote under `<out>/cim/`
   * (highest seq; its messages are numbered 1..n, n = its files across nouns), and rebuilds the
   * retained window from those files (cim-window.ts), within the same count and character
   * limits: a checkpoint inside the window is served exactly as before the restart; an older one
   * gets MF_CHECKPOINT_EXPIRED instead of silently missing messages. Returns what was restored.
   */
  async restoreFromDisk(): Promise<RestoredWindow | undefined> {
    const outDir = this.options.outDir;
    if (!outDir) return undefined;
    const window =
      this.retained.length === 0 && this.lastSeq < 0
        ? await restoreWindow({
            outDir,
            source: this.options.source,
            maxReadingsPerMessage: this.options.maxReadingsPerMessage ?? 5_000,
            maxMessages: this.options.maxRetainedMessages ?? 100_000,
            maxBytes: this.options.maxRetainedBytes ?? 256 * 1024 * 1024,
            messageIdOf: deterministicUuid,
            positionOf: messagePosition,
          })
        : undefined;
    const countBySeq = new Map<number, number>();
    for (const noun of ['MeterReadings', 'EndDeviceEvents']) {
      let names: string[];
      try {
        names = await readdir(join(outDir, 'cim', noun));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const name of names) {
        const match = /^(\d{10,})-[0-9a-f-]{36}\.xml$/.exec(name);
        if (!match) continue;
        const seq = Number(match[1]);
        countBySeq.set(seq, (countBySeq.get(seq) ?? 0) + 1);
      }
    }
    if (countBySeq.size === 0) return window;
    // A loop, not Math.max(...): an out dir can hold more seqs than a call takes arguments.
    const seq = [...countBySeq.keys()].reduce((a, b) => Math.max(a, b));
    const last = messagePosition(seq, (countBySeq.get(seq) as number) - 1);
    this.diskSeq = Math.max(this.diskSeq, seq);
    this.diskLastPosition = Math.max(this.diskLastPosition, last);
    this.position = Math.max(this.position, last);
    if (!window) {
      this.servedFrom = Math.max(this.servedFrom, last);
      return undefined;
    }
    this.retained.push(...window.messages);
    this.retainedBytes = window.bytes;
    this.servedFrom = Math.max(this.servedFrom, window.servedFrom);
    // What an expired checkpoint misses, from the log (a lower bound: lostExact stays false).
    this.dropped = window.olderPositions;
    this.droppedRecordTrimmed = true;
    return window;
  }

  /**
   * Publishes the batch at stream position `seq`; a seq at or below the last one published is a
   * replay and publishes nothing. Resolves once the batch is durable: its files, their
   * directories and its `batches.log` line fsynced (cim-commit.ts); only then does any subscriber
   * hear of it. Calls may overlap: each batch is encoded at once (in the pool when given one),
   * its files are written one batch at a time in call order, and batches written while a commit
   * runs share the next one (one directory fsync and one log fsync for all of them), so
   * positions reach files, `batches.log` and subscribers strictly in order.
   */
  publish(batch: OutputBatch, seq: number): Promise<PublishedMessage[]> {
    if (seq <= this.lastSeq) return Promise.resolve([]);
    // Checked before any file is written: a bad seq must not leave files behind.
    try {
      messagePosition(seq, 0);
      this.fence.admit(seq);
    } catch (err) {
      return Promise.reject(err);
    }
    const encoding = this.encode(batch, seq);
    // Awaited in turn below; marked handled now so a failure while earlier batches are still
    // being written is not reported as unhandled.
    encoding.catch(() => undefined);
    const staging = this.ordered.then(async (): Promise<{ published: Promise<PublishedMessage[]> }> => {
      let messages: Awaited<typeof encoding>;
      try {
        messages = await encoding;
      } catch (err) {
        if (seq > this.lastSeq) this.fence.failed(seq);
        throw err;
      }
      // An overlapping call with the same seq (a replay racing its original) publishes once,
      // and resolves only when the original is durable (its caller may acknowledge on resolve).
      if (seq <= this.stagedSeq) return { published: this.lastCommit.then(() => []) };
      this.fence.check(seq);
      const previous = this.stagedSeq;
      this.stagedSeq = seq;
      let staged: StagedBatch | undefined;
      try {
        staged = await this.stage(messages, seq);
        // An earlier batch's commit may have failed while this one was being written.
        this.fence.check(seq);
      } catch (err) {
        // Back to what it was, or lower: an earlier batch that failed meanwhile has reset it.
        this.stagedSeq = Math.min(this.stagedSeq, previous);
        if (!(err instanceof OutputOrderError)) this.fence.failed(seq);
        throw err;
      }
      // Queued here, inside the ordered chain, so commits (and announcements) keep call order.
      const published =
        staged && this.committer
          ? this.committer.commit(staged, () => this.announce(messages, seq))
          : Promise.resolve(this.announce(messages, seq));
      const settled = published.catch((err: unknown) => {
        // Not published: a replay of this seq must write it again, and no later one before it.
        if (this.stagedSeq >= seq) this.stagedSeq = this.lastSeq;
        if (!(err instanceof OutputOrderError)) this.fence.failed(seq);
        throw err;
      });
      this.lastCommit = settled;
      settled.catch(() => undefined);
      // Wrapped: the next batch's files are written while this one waits for its commit.
      return { published: settled };
    });
    this.ordered = staging.catch(() => undefined);
    return staging.then((s) => s.published);
  }

  private async encode(batch: OutputBatch, seq: number): Promise<Omit<PublishedMessage, 'position'>[]> {
    const messages: Omit<PublishedMessage, 'position'>[] = [];
    const perMessage = this.options.maxReadingsPerMessage ?? 5_000;
    const readingJobs = [];
    for (let i = 0; i < batch.readings.length; i += perMessage) {
      const messageId = deterministicUuid(`${this.options.source}|${seq}|MeterReadings|${i}`);
      const options = { messageId, source: this.options.source, clock: this.options.clock };
      readingJobs.push({ readings: batch.readings.slice(i, i + perMessage), options });
    }
    const readingBytes = await encodeMeterReadingsMessagesBytes(this.options.pool, readingJobs);
    for (const [i, job] of readingJobs.entries())
      messages.push({ noun: 'MeterReadings', messageId: job.options.messageId, bytes: readingBytes[i]! });
    const groups = new Map<string, typeof batch.events>();
    for (const e of batch.events) {
      const key = e.correlationId ?? '';
      const group = groups.get(key);
      if (group) group.push(e);
      else groups.set(key, [e]);
    }
    let g = 0;
    for (const [correlationId, events] of groups) {
      const messageId = deterministicUuid(`${this.options.source}|${seq}|EndDeviceEvents|${g++}`);
      const xml = encodeEndDeviceEvents(events, {
        messageId,
        source: this.options.source,
        clock: this.options.clock,
        ...(correlationId ? { correlationId } : {}),
      });
      const bytes = utf8Encoder.encode(xml);
      messages.push({
        noun: 'EndDeviceEvents',
        messageId,
        bytes,
        ...(correlationId ? { correlationId } : {}),
      });
    }
    return messages;
  }

  /** Writes the batch's files (durable, not yet logged); undefined without an out dir. */
  private async stage(
    messages: readonly Omit<PublishedMessage, 'position'>[],
    seq: number,
  ): Promise<StagedBatch | undefined> {
    if (!this.committer) return undefined;
    const meterReadings = messages.filter((m) => m.noun === 'MeterReadings').length;
    const files = messages.map((m) => ({
      noun: m.noun,
      name: `${String(seq).padStart(10, '0')}-${m.messageId}.xml`,
      bytes: m.bytes,
    }));
    return this.committer.stage(seq, files, {
      meterReadings,
      endDeviceEvents: messages.length - meterReadings,
    });
  }

  /** Counts the batch as published: called once it is durable, in call order. */
  private announce(messages: readonly Omit<PublishedMessage, 'position'>[], seq: number): PublishedMessage[] {
    const published = messages.map((m, index) => ({ ...m, position: messagePosition(seq, index) }));
    this.lastSeq = seq;
    this.fence.written(seq);
    this.position = Math.max(this.position, published.at(-1)?.position ?? 0);
    this.published += published.length;
    for (const m of published) {
      this.countsByNoun[m.noun] = (this.countsByNoun[m.noun] ?? 0) + 1;
      this.retain(m);
      for (const listener of this.listeners) listener(m);
    }
    this.trimRetained();
    return published;
  }

  /**
   * Keeps `m` for subscribers that resume. A replayed batch (restored from disk, then replayed by
   * the stream) replaces its earlier copy, so the window holds each position once, as on disk.
   */
  private retain(m: PublishedMessage): void {
    const last = this.retained.at(-1);
    if (!last || m.position > last.position) {
      this.retained.push(m);
      this.retainedBytes += m.bytes.byteLength;
      return;
    }
    let lo = 0;
    let hi = this.retained.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.retained[mid] as PublishedMessage).position < m.position) lo = mid + 1;
      else hi = mid;
    }
    const existing = this.retained[lo];
    if (existing?.position === m.position) {
      this.retainedBytes += m.bytes.byteLength - existing.bytes.byteLength;
      this.retained[lo] = m;
    } else if (m.position > this.servedFrom) {
      this.retained.splice(lo, 0, m);
      this.retainedBytes += m.bytes.byteLength;
    }
  }

  private trimRetained(): void {
    const maxMessages = this.options.maxRetainedMessages ?? 100_000;
    const maxBytes = this.options.maxRetainedBytes ?? 256 * 1024 * 1024;
    let drop = Math.max(0, this.retained.length - maxMessages);
    let bytes = this.retainedBytes;
    for (let i = 0; i < drop; i++) bytes -= (this.retained[i] as PublishedMessage).bytes.byteLength;
    // The newest message is always kept, however large: a live subscriber has just seen it.
    while (bytes > maxBytes && drop < this.retained.length - 1) {
      bytes -= (this.retained[drop] as PublishedMessage).bytes.byteLength;
      drop++;
    }
    if (drop === 0) return;
    for (const m of this.retained.splice(0, drop)) {
      this.servedFrom = Math.max(this.servedFrom, m.position);
      this.dropped.push(m.position);
    }
    this.retainedBytes = bytes;
    // The record of dropped positions is bounded like the window; beyond it counts are lower bounds.
    const maxRecord = this.options.maxRetainedMessages ?? 100_000;
    if (this.dropped.length > 2 * maxRecord) {
      this.dropped = this.dropped.slice(-maxRecord);
      this.droppedRecordTrimmed = true;
    }
  }

  /**
   * Messages after `checkpoint` (a position), then live ones until unsubscribe is called.
   * A checkpoint is served only if no message after it was dropped or is unknown to this process.
   */
  subscribe(checkpoint: number, listener: Listener): () => void {
    if (checkpoint < this.servedFrom) {
      const lost = this.dropped.filter((p) => p > checkpoint).length;
      const lostExact = !this.droppedRecordTrimmed && checkpoint >= this.diskLastPosition;
      throw new CheckpointExpiredError(checkpoint, this.servedFrom, lost, lostExact);
    }
    // A replayed batch (a new process republishes what the stream replays) carries positions a
    // subscriber may have seen already: each subscriber gets only positions above its last one.
    let lastDelivered = checkpoint;
    const deliver: Listener = (m) => {
      if (m.position <= lastDelivered) return;
      lastDelivered = m.position;
      listener(m);
    };
    for (const m of this.retained) deliver(m);
    this.listeners.add(deliver);
    return () => this.listeners.delete(deliver);
  }
}
