import type { WorkerPool } from '../../cluster/pool/pool.js';
import type { Clock } from '../../core/clock.js';
import { MeterfabricError } from '../../core/errors.js';
import { defaultReadingsPerMessage, type EncodedBatch, encodeBatchMessages } from './cim-batch-encoding.js';
import { CimBatchCommitter, type CimFileOps, type StagedBatch } from './cim-commit.js';
import {
  deterministicUuid,
  messagePosition,
  type PublishedEntry,
  type PublishedMessage,
} from './cim-message.js';
import { RetainedWindow } from './cim-retained.js';
import { catchUp, type Listener, type SubscribeOptions, type Subscription } from './cim-subscription.js';
import { newestBatchOnDisk, type RestoredWindow, readMessageFile, restoreWindow } from './cim-window.js';
import type { OutputBatch } from './output-batch.js';
import { OrderFence, OutputOrderError } from './output-order.js';

export {
  CheckpointExpiredError,
  deterministicUuid,
  MAX_POSITION_SEQ,
  messagePosition,
  messageXml,
  POSITIONS_PER_SEQ,
  type PublishedEntry,
  type PublishedMessage,
} from './cim-message.js';
export type { SubscribeOptions, Subscription } from './cim-subscription.js';

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
 *
 * With an out dir the retained window keeps no bytes (session 17): each message's bytes go to
 * its file and to the live subscribers at publish time, the window keeps its metadata, and a
 * subscriber resuming behind the newest message reads the rest from the files
 * (cim-subscription.ts). So the MeterReadings encoded in the pool are lent from its output
 * arenas and released once written and announced, instead of each message's buffer being kept.
 * Without an out dir there are no files: the window keeps the bytes.
 */

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

export class CimPublisher {
  /** Messages kept for subscribers that resume (cim-retained.ts). */
  private readonly window: RetainedWindow;
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
  /** After a seq failed, later seqs are refused until it is published again (output-order.ts). */
  private readonly fence = new OrderFence('the CIM messages');
  readonly countsByNoun: Record<string, number> = {};

  constructor(private readonly options: CimPublisherOptions) {
    this.committer = options.outDir ? new CimBatchCommitter(options.outDir, options.fileOps) : undefined;
    this.window = new RetainedWindow({
      maxMessages: options.maxRetainedMessages ?? 100_000,
      maxBytes: options.maxRetainedBytes ?? 256 * 1024 * 1024,
    });
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

  /**
   * True with an out dir: a subscriber behind the newest message reads the rest from the files,
   * at its own pace (so a slow one can be detached and caught up again, bridge/subscribe-events.ts).
   */
  get writesFiles(): boolean {
    return this.committer !== undefined;
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
      this.window.length === 0 && this.lastSeq < 0
        ? await restoreWindow({
            outDir,
            source: this.options.source,
            maxReadingsPerMessage: this.options.maxReadingsPerMessage ?? defaultReadingsPerMessage,
            maxMessages: this.options.maxRetainedMessages ?? 100_000,
            maxBytes: this.options.maxRetainedBytes ?? 256 * 1024 * 1024,
            messageIdOf: deterministicUuid,
            positionOf: messagePosition,
          })
        : undefined;
    const newest = await newestBatchOnDisk(outDir);
    if (!newest) return window;
    const { seq, last } = newest;
    this.diskSeq = Math.max(this.diskSeq, seq);
    this.window.diskLastPosition = Math.max(this.window.diskLastPosition, last);
    this.position = Math.max(this.position, last);
    if (!window) {
      this.window.servedFrom = Math.max(this.window.servedFrom, last);
      return undefined;
    }
    this.window.restore(window.messages, window.bytes, window.servedFrom, window.olderPositions);
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
  publish(batch: OutputBatch, seq: number): Promise<PublishedEntry[]> {
    if (seq <= this.lastSeq) return Promise.resolve([]);
    // Checked before any file is written: a bad seq must not leave files behind.
    try {
      messagePosition(seq, 0);
      this.fence.admit(seq);
    } catch (err) {
      return Promise.reject(err);
    }
    // With files the window keeps no bytes, so they can be lent (released after announce).
    const encoding = encodeBatchMessages(batch, seq, this.options, this.committer !== undefined);
    // Awaited in turn below; marked handled now so a failure while earlier batches are still
    // being written is not reported as unhandled.
    encoding.catch(() => undefined);
    const staging = this.ordered.then(async (): Promise<{ published: Promise<PublishedEntry[]> }> => {
      let encoded: EncodedBatch;
      try {
        encoded = await encoding;
      } catch (err) {
        if (seq > this.lastSeq) this.fence.failed(seq);
        throw err;
      }
      const { messages } = encoded;
      // An overlapping call with the same seq (a replay racing its original) publishes once,
      // and resolves only when the original is durable (its caller may acknowledge on resolve).
      if (seq <= this.stagedSeq) {
        encoded.release();
        return { published: this.lastCommit.then(() => []) };
      }
      const previous = this.stagedSeq;
      let staged: StagedBatch | undefined;
      try {
        this.fence.check(seq);
        this.stagedSeq = seq;
        staged = await this.stage(messages, seq);
        // An earlier batch's commit may have failed while this one was being written.
        this.fence.check(seq);
      } catch (err) {
        // No file of this batch is being written any more (stage settles them all first).
        encoded.release();
        // Back to what it was, or lower: an earlier batch that failed meanwhile has reset it.
        this.stagedSeq = Math.min(this.stagedSeq, previous);
        if (!(err instanceof OutputOrderError)) this.fence.failed(seq);
        throw err;
      }
      // Queued here, inside the ordered chain, so commits (and announcements) keep call order.
      let published: Promise<PublishedEntry[]>;
      if (staged && this.committer)
        published = this.committer.commit(staged, () => this.announce(messages, seq));
      else {
        try {
          published = Promise.resolve(this.announce(messages, seq));
        } catch (err) {
          published = Promise.reject(err);
        }
      }
      // Written and announced (or failed): the lent bytes are not read again.
      published.then(encoded.release, encoded.release);
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

  /**
   * Counts the batch as published: called once it is durable, in call order. Live listeners get
   * the bytes now (they may be lent: a listener that keeps them past its call must copy them);
   * the window keeps the metadata, and the bytes only when there are no files.
   */
  private announce(messages: readonly Omit<PublishedMessage, 'position'>[], seq: number): PublishedEntry[] {
    const entries: PublishedEntry[] = new Array(messages.length);
    this.lastSeq = seq;
    this.fence.written(seq);
    this.position = Math.max(
      this.position,
      messages.length > 0 ? messagePosition(seq, messages.length - 1) : 0,
    );
    this.published += messages.length;
    for (const [index, m] of messages.entries()) {
      const message: PublishedMessage = { ...m, position: messagePosition(seq, index) };
      const { bytes, ...meta } = message;
      const entry: PublishedEntry = { ...meta, byteLength: bytes.byteLength };
      entries[index] = entry;
      this.countsByNoun[m.noun] = (this.countsByNoun[m.noun] ?? 0) + 1;
      this.window.retain(this.committer ? entry : { ...entry, bytes });
      for (const listener of this.listeners) listener(message);
    }
    this.window.trim();
    return entries;
  }

  /**
   * A published message's bytes: read from its file (the window keeps none with an out dir),
   * or from the window without one. For callers and tests that hold a `publish` result.
   */
  async bytesOf(m: PublishedEntry): Promise<Uint8Array> {
    const outDir = this.options.outDir;
    const bytes = outDir ? await readMessageFile(outDir, m) : this.window.find(m.position)?.bytes;
    if (bytes === undefined)
      throw new MeterfabricError(
        'MF_CIM_MESSAGE_GONE',
        `message ${m.messageId} (position ${m.position}) is ${outDir ? 'missing or torn under <out>/cim/' : 'no longer retained (no out dir)'}; reconcile it from its source`,
        { position: m.position, messageId: m.messageId },
      );
    return bytes;
  }

  /**
   * Messages after `checkpoint` (a position), then live ones until unsubscribe is called.
   * A checkpoint is served only if no message after it was dropped or is unknown to this process
   * (else this throws MF_CHECKPOINT_EXPIRED). Without an out dir, or with nothing after the
   * checkpoint, the messages after it are delivered before this returns; otherwise they are read
   * from their files (cim-subscription.ts: in order, a chunk at a time, `options.ready` awaited
   * between chunks) and `caughtUp` resolves when the subscriber has joined the live ones. A torn or
   * missing file ends the window there: `options.onError` gets MF_CHECKPOINT_EXPIRED.
   * The bytes a listener gets may be lent: copy what must outlive the call.
   */
  subscribe(checkpoint: number, listener: Listener, options: SubscribeOptions = {}): Subscription {
    this.window.check(checkpoint);
    const outDir = this.options.outDir;
    if (outDir && this.window.newestPosition > checkpoint)
      return catchUp(
        {
          entriesAfter: (position, maxMessages, maxBytes) =>
            this.window.entriesAfter(position, maxMessages, maxBytes),
          read: (entry) => readMessageFile(outDir, entry),
          cut: (position) => this.window.cut(position),
          check: (position) => this.window.check(position),
          attach: (l) => this.listeners.add(l),
          detach: (l) => this.listeners.delete(l),
        },
        checkpoint,
        listener,
        options,
      );
    // A replayed batch (a new process republishes what the stream replays) carries positions a
    // subscriber may have seen already: each subscriber gets only positions above its last one.
    let lastDelivered = checkpoint;
    const deliver: Listener = (m) => {
      if (m.position <= lastDelivered) return;
      lastDelivered = m.position;
      listener(m);
    };
    for (const { byteLength: _, bytes, ...m } of this.window.all())
      deliver({ ...m, bytes: bytes as Uint8Array });
    this.listeners.add(deliver);
    return Object.assign(() => void this.listeners.delete(deliver), { caughtUp: Promise.resolve() });
  }
}
