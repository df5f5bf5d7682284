import { ClassicLevel } from 'classic-level';
import type { PublishedMessage } from './cim-publisher.js';

/**
 * The webhook dispatcher's durable state on classic-level: per subscriber, the messages waiting
 * for delivery in order, and the publisher position it has taken messages up to.
 *
 * Keys: `q/<subscriber>/<seq, 16 hex digits>` -> queued message (JSON);
 *       `m/<subscriber>` -> { nextSeq, sourcePosition }.
 * A message leaves the queue only after the receiver answered 2xx (at-least-once), and taking
 * messages writes them and the new source position in one atomic batch, so after a restart
 * the dispatcher resumes exactly where it stood: nothing it accepted is lost or reordered.
 */

/**
 * A message as queued: its XML as text, the form the queue has always stored (JSON values), so
 * queues written before messages were published as bytes replay unchanged.
 */
export type QueuedMessage = Omit<PublishedMessage, 'position' | 'bytes'> & {
  xml: string;
  /** Order within this subscriber's queue. */
  seq: number;
  /** The publisher position the message had (for the receiver's information only). */
  position: number;
};

export type SubscriberMeta = {
  /** Next queue seq to assign. */
  nextSeq: number;
  /** Highest publisher position taken (queued or filtered out). */
  sourcePosition: number;
};

const seqKey = (seq: number) => seq.toString(16).padStart(16, '0');

export class WebhookOutbox {
  private constructor(private readonly db: ClassicLevel<string, string>) {}

  static async open(location: string): Promise<WebhookOutbox> {
    const db = new ClassicLevel<string, string>(location, { valueEncoding: 'utf8' });
    await db.open();
    return new WebhookOutbox(db);
  }

  async meta(subscriber: string): Promise<SubscriberMeta> {
    const raw = await this.db.get(`m/${subscriber}`);
    return raw === undefined ? { nextSeq: 1, sourcePosition: 0 } : (JSON.parse(raw) as SubscriberMeta);
  }

  async queuedCount(subscriber: string): Promise<number> {
    let n = 0;
    for await (const _ of this.db.keys(range(subscriber))) n++;
    return n;
  }

  /** Appends messages (possibly none: filtered out) and records `meta` in one batch. */
  async append(subscriber: string, messages: readonly QueuedMessage[], meta: SubscriberMeta): Promise<void> {
    await this.db.batch([
      ...messages.map((m) => ({
        type: 'put' as const,
        key: `q/${subscriber}/${seqKey(m.seq)}`,
        value: JSON.stringify(m),
      })),
      { type: 'put' as const, key: `m/${subscriber}`, value: JSON.stringify(meta) },
    ]);
  }

  /** Up to `limit` queued messages after seq `afterSeq`, oldest first (one iterator, not one per message). */
  async next(subscriber: string, afterSeq: number, limit: number): Promise<QueuedMessage[]> {
    const out: QueuedMessage[] = [];
    const { lt } = range(subscriber);
    for await (const value of this.db.values({ gt: `q/${subscriber}/${seqKey(afterSeq)}`, lt, limit }))
      out.push(JSON.parse(value) as QueuedMessage);
    return out;
  }

  /** Removes a delivered message. */
  async remove(subscriber: string, seq: number): Promise<void> {
    await this.db.del(`q/${subscriber}/${seqKey(seq)}`);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

function range(subscriber: string): { gte: string; lt: string } {
  // Subscriber names exclude '/', and '0' sorts right after '/'.
  return { gte: `q/${subscriber}/`, lt: `q/${subscriber}0` };
}
