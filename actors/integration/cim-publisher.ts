import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeEndDeviceEvents } from '../../adapters/cim/end-device-events.js';
import { encodeMeterReadings } from '../../adapters/cim/meter-readings.js';
import type { Clock } from '../../core/clock.js';
import { MeterfabricError } from '../../core/errors.js';
import type { OutputBatch } from './output-batch.js';

/**
 * Publishes each output batch as CIM EventMessages (MeterReadings; EndDeviceEvents, one
 * message per CorrelationID) to files under `<out>/cim/<Noun>/` and to live subscribers.
 * A message's MessageID and file name derive from the batch's stream position, so a batch
 * replayed after a crash rewrites the same files and is not announced twice.
 */

export type PublishedMessage = {
  /** Position in the publisher's output, starting at 1: subscribers resume after a checkpoint. */
  position: number;
  noun: 'MeterReadings' | 'EndDeviceEvents';
  messageId: string;
  correlationId?: string;
  xml: string;
};

export type CimPublisherOptions = {
  outDir?: string;
  source: string;
  clock: Clock;
  /** Messages kept for subscribers that resume; older checkpoints get MF_CHECKPOINT_EXPIRED. */
  maxRetainedMessages?: number;
  /** ...and at most this many characters of XML among them (a message can carry 5,000 readings). */
  maxRetainedChars?: number;
  /** Readings per MeterReadings message (bounded message size). */
  maxReadingsPerMessage?: number;
};

export class CheckpointExpiredError extends MeterfabricError {
  constructor(checkpoint: number, oldest: number) {
    super(
      'MF_CHECKPOINT_EXPIRED',
      `checkpoint ${checkpoint} is older than the oldest retained message ${oldest}: resubscribe from ${oldest - 1} and reconcile from the CSV files`,
      { checkpoint, oldest },
    );
  }
}

type Listener = (m: PublishedMessage) => void;

export class CimPublisher {
  private readonly retained: PublishedMessage[] = [];
  private retainedChars = 0;
  /** Directories known to exist: one mkdir per noun, not per message. */
  private readonly madeDirs = new Set<string>();
  private readonly listeners = new Set<Listener>();
  private lastSeq = -1;
  private position = 0;
  readonly countsByNoun: Record<string, number> = {};

  constructor(private readonly options: CimPublisherOptions) {}

  get lastPosition(): number {
    return this.position;
  }

  async publish(batch: OutputBatch, seq: number): Promise<PublishedMessage[]> {
    if (seq <= this.lastSeq) return [];
    const messages: Omit<PublishedMessage, 'position'>[] = [];
    const perMessage = this.options.maxReadingsPerMessage ?? 5_000;
    for (let i = 0; i < batch.readings.length; i += perMessage) {
      const messageId = deterministicUuid(`${this.options.source}|${seq}|MeterReadings|${i}`);
      const xml = encodeMeterReadings(batch.readings.slice(i, i + perMessage), {
        messageId,
        source: this.options.source,
        clock: this.options.clock,
      });
      messages.push({ noun: 'MeterReadings', messageId, xml });
    }
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
      messages.push({ noun: 'EndDeviceEvents', messageId, xml, ...(correlationId ? { correlationId } : {}) });
    }
    const outDir = this.options.outDir;
    if (outDir) {
      // The files of one batch are independent: written concurrently, all before it counts as published.
      await Promise.all(
        messages.map(async (m) => {
          const dir = join(outDir, 'cim', m.noun);
          if (!this.madeDirs.has(dir)) {
            await mkdir(dir, { recursive: true });
            this.madeDirs.add(dir);
          }
          const path = join(dir, `${String(seq).padStart(10, '0')}-${m.messageId}.xml`);
          await writeFile(`${path}.tmp`, m.xml);
          await rename(`${path}.tmp`, path);
        }),
      );
    }
    this.lastSeq = seq;
    const published = messages.map((m) => ({ ...m, position: ++this.position }));
    for (const m of published) {
      this.countsByNoun[m.noun] = (this.countsByNoun[m.noun] ?? 0) + 1;
      this.retained.push(m);
      this.retainedChars += m.xml.length;
      for (const listener of this.listeners) listener(m);
    }
    this.trimRetained();
    return published;
  }

  private trimRetained(): void {
    const maxMessages = this.options.maxRetainedMessages ?? 100_000;
    const maxChars = this.options.maxRetainedChars ?? 256 * 1024 * 1024;
    let drop = Math.max(0, this.retained.length - maxMessages);
    let chars = this.retainedChars;
    for (let i = 0; i < drop; i++) chars -= (this.retained[i] as PublishedMessage).xml.length;
    // The newest message is always kept, however large: a live subscriber has just seen it.
    while (chars > maxChars && drop < this.retained.length - 1) {
      chars -= (this.retained[drop] as PublishedMessage).xml.length;
      drop++;
    }
    if (drop === 0) return;
    this.retained.splice(0, drop);
    this.retainedChars = chars;
  }

  /** Messages after `checkpoint` (a position), then live ones until unsubscribe is called. */
  subscribe(checkpoint: number, listener: Listener): () => void {
    const oldest = this.retained[0]?.position ?? this.position + 1;
    if (checkpoint < oldest - 1) throw new CheckpointExpiredError(checkpoint, oldest);
    for (const m of this.retained) if (m.position > checkpoint) listener(m);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A UUID-shaped id from a name (RFC 4122 version 5 layout over SHA-1). */
export function deterministicUuid(name: string): string {
  const hex = createHash('sha1').update(name).digest('hex');
  const variant = ((Number.parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}
