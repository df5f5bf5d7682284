import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import {
  CheckpointExpiredError,
  type CimPublisher,
  messageXml,
  type PublishedMessage,
} from './cim-publisher.js';
import { type BackoffPolicy, retryDelayMs } from './webhook-backoff.js';
import type { WebhookLimits, WebhookSubscriberConfig } from './webhook-config.js';
import type { QueuedMessage, WebhookOutbox } from './webhook-outbox.js';
import { type PostOutcome, type WebhookTarget, webhookTarget } from './webhook-post.js';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook-signature.js';

/**
 * One webhook subscriber: takes messages from the publisher into its durable queue (bounded),
 * and delivers the queue in order, one request at a time, retrying with backoff until the
 * receiver answers 2xx.
 *
 * Full queue: the oldest messages are kept and new ones refused (counted, logged), because the
 * receiver must see messages in order: dropping the oldest would punch a hole into what it has
 * not yet received, while refusing at the tail only delays. Refused messages are not given up:
 * once the queue has drained to half, the channel takes them again from the publisher's retained
 * messages (the gRPC stream's position model). Only those the publisher no longer retains by
 * then are lost to this subscriber (counted and logged as an error: reconcile them from the CIM
 * files under <out>/cim/).
 */

export type WebhookSubscriberStatus = {
  name: string;
  queued: number;
  delivered: number;
  failedAttempts: number;
  refused: number;
  lost: number;
  /** Taking no new messages: the queue is full. */
  paused: boolean;
  sourcePosition: number;
  /** Wall time (ms) of the last 2xx, or of the channel's start while there was none (for the age metric). */
  lastSuccessAtMs: number;
  /** Whether any message was delivered since the channel started. */
  everDelivered: boolean;
  lastError?: string;
};

export type WebhookEvents = {
  delivered?(subscriber: string): void;
  failedAttempt?(subscriber: string): void;
  refused?(subscriber: string): void;
  lost?(subscriber: string, count: number): void;
};

export type ChannelDeps = {
  publisher: CimPublisher;
  outbox: WebhookOutbox;
  limits: WebhookLimits;
  backoff: BackoffPolicy;
  /** Wall time for the signature timestamp (receivers compare it with their own clock). */
  clock: Clock;
  random: () => number;
  logger: Logger;
  events: WebhookEvents;
};

export class WebhookChannel {
  private readonly target: WebhookTarget;
  private readonly nouns: ReadonlySet<string>;
  private queued = 0;
  private nextSeq = 1;
  private sourcePosition = 0;
  private paused = false;
  private closed = false;
  private unsubscribe: (() => void) | undefined;
  private writes: Promise<void> = Promise.resolve();
  /** Settles once the current subscription gets live messages (it may first read a backlog from the files). */
  private catchingUp: Promise<void> = Promise.resolve();
  private wakeups = 0;
  private wake: (() => void) | undefined;
  private abortRequest: (() => void) | undefined;
  private cancelSleep: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();
  /** Queued messages read ahead from the store, and the highest seq read so far. */
  private lookahead: QueuedMessage[] = [];
  private lastReadSeq = 0;
  private readonly counts = { delivered: 0, failedAttempts: 0, refused: 0, lost: 0 };
  private lastError: string | undefined;
  private lastSuccessAtMs = 0;
  private everDelivered = false;

  constructor(
    readonly config: WebhookSubscriberConfig,
    private readonly deps: ChannelDeps,
  ) {
    this.target = webhookTarget(config);
    this.nouns = new Set(config.nouns ?? []);
  }

  /** Loads the persisted queue and position, resumes taking messages and delivering. */
  async start(): Promise<void> {
    const { outbox, logger } = this.deps;
    const meta = await outbox.meta(this.config.name);
    this.lastSuccessAtMs = this.deps.clock.now();
    this.queued = await outbox.queuedCount(this.config.name);
    this.nextSeq = meta.nextSeq;
    this.sourcePosition = meta.sourcePosition;
    // Positions are global (stream seq and index in the batch), so a stored position means the
    // same in a new process: a checkpoint it cannot serve is answered with MF_CHECKPOINT_EXPIRED.
    this.paused = this.queued >= this.deps.limits.maxQueuedMessages;
    this.subscribeFrom(this.sourcePosition);
    this.loop = this.deliverLoop().catch((err: unknown) => {
      // Only the state store failing gets here (delivery errors are retried): stop loudly.
      this.lastError = String(err);
      logger.error(
        { err, subscriber: this.config.name },
        'webhook: delivery stopped; restart the dispatcher',
      );
    });
  }

  /**
   * Resolves once every message offered so far is in the durable queue, and every message
   * published so far was offered: a subscription catching up from the CIM files first reaches the live ones.
   */
  async flush(): Promise<void> {
    // Until no new subscription took over meanwhile (the window ended inside a backlog: resubscribed).
    let catchingUp: Promise<void>;
    do {
      catchingUp = this.catchingUp;
      await catchingUp;
    } while (catchingUp !== this.catchingUp);
    await this.writes;
  }

  status(): WebhookSubscriberStatus {
    return {
      name: this.config.name,
      queued: this.queued,
      ...this.counts,
      paused: this.paused,
      sourcePosition: this.sourcePosition,
      lastSuccessAtMs: this.lastSuccessAtMs,
      everDelivered: this.everDelivered,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    this.wake?.();
    this.cancelSleep?.();
    this.abortRequest?.();
    await this.loop;
    await this.writes;
    this.target.close();
  }

  private subscribeFrom(position: number): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.closed) return;
    try {
      const subscription = this.deps.publisher.subscribe(position, (m) => this.offer(m), {
        onError: (err) => this.subscriptionEnded(err),
      });
      this.unsubscribe = subscription;
      this.catchingUp = subscription.caughtUp.catch(() => undefined);
    } catch (err) {
      if (!(err instanceof CheckpointExpiredError)) throw err;
      this.expired(position, err);
    }
  }

  /** The publisher's window does not hold the messages after `position` (any more): count them lost, go on after them. */
  private expired(position: number, err: CheckpointExpiredError): void {
    const { logger, events } = this.deps;
    // Positions are sparse: the publisher counts the messages it dropped after `position`.
    const resumeFrom = Number(err.details.resumeFrom);
    const lost = Number(err.details.lost);
    this.counts.lost += lost;
    events.lost?.(this.config.name, lost);
    logger.error(
      {
        subscriber: this.config.name,
        afterPosition: position,
        throughPosition: resumeFrom,
        lost,
        lostExact: err.details.lostExact,
      },
      'webhook: messages after this position are no longer retained (or were published by an earlier process); reconcile them from <out>/cim/',
    );
    this.sourcePosition = Math.max(this.sourcePosition, resumeFrom);
    this.subscribeFrom(this.sourcePosition);
  }

  /** Catching up from the CIM files stopped: the window ended inside the backlog, or a file could not be read. */
  private subscriptionEnded(err: unknown): void {
    if (this.closed) return;
    // Subscribing again from this channel's own position (behind the subscription's when messages
    // were refused) gets MF_CHECKPOINT_EXPIRED at once, counting what is lost from there.
    if (err instanceof CheckpointExpiredError) {
      this.subscribeFrom(this.sourcePosition);
      return;
    }
    this.deps.logger.error(
      { err, subscriber: this.config.name, afterPosition: this.sourcePosition },
      'webhook: reading the CIM files failed; taking messages again from this position in 1 s',
    );
    setTimeout(() => this.subscribeFrom(this.sourcePosition), 1000).unref();
  }

  /** Called by the publisher (synchronously, in position order). */
  private offer(m: PublishedMessage): void {
    if (this.closed || m.position <= this.sourcePosition) return;
    const { limits, logger, events } = this.deps;
    const skip = this.nouns.size > 0 && !this.nouns.has(m.noun);
    if (this.paused) {
      // The position stays put: these are taken again from the publisher once there is room.
      if (!skip) {
        this.counts.refused++;
        events.refused?.(this.config.name);
      }
      return;
    }
    const sizeBytes = m.bytes.byteLength;
    if (!skip && sizeBytes > limits.maxMessageBytes) {
      // It can never fit: give it up for good (lost) rather than block the queue behind it.
      this.counts.lost++;
      events.lost?.(this.config.name, 1);
      logger.error(
        {
          subscriber: this.config.name,
          messageId: m.messageId,
          sizeBytes,
          maxMessageBytes: limits.maxMessageBytes,
        },
        'webhook: message larger than maxMessageBytes is not delivered to this subscriber',
      );
    } else if (!skip && this.queued >= limits.maxQueuedMessages) {
      this.paused = true;
      this.counts.refused++;
      events.refused?.(this.config.name);
      logger.warn(
        { subscriber: this.config.name, position: m.position, messageId: m.messageId, queued: this.queued },
        'webhook: queue full; refusing new messages until it drains to half (then they are taken again from the publisher)',
      );
      return;
    }
    this.sourcePosition = m.position;
    const meta = { nextSeq: this.nextSeq, sourcePosition: m.position };
    const entries: QueuedMessage[] = [];
    if (!skip && sizeBytes <= limits.maxMessageBytes) {
      const { position, bytes, ...rest } = m;
      // Text, as the outbox stores it (JSON values; see QueuedMessage), decoded once per subscriber.
      entries.push({ ...rest, xml: messageXml({ bytes }), position, seq: this.nextSeq++ });
      meta.nextSeq = this.nextSeq;
      this.queued++;
    }
    const name = this.config.name;
    this.writes = this.writes
      .then(() => this.deps.outbox.append(name, entries, meta))
      .then(
        () => {
          this.wakeups++;
          this.wake?.();
        },
        (err: unknown) => logger.error({ err, subscriber: name }, 'webhook: queue write failed'),
      );
  }

  private async deliverLoop(): Promise<void> {
    const { outbox, backoff, random, logger } = this.deps;
    let attempt = 0;
    while (!this.closed) {
      const seen = this.wakeups;
      if (this.lookahead.length === 0) {
        this.lookahead = await outbox.next(this.config.name, this.lastReadSeq, 64);
        this.lastReadSeq = this.lookahead.at(-1)?.seq ?? this.lastReadSeq;
      }
      const head = this.lookahead[0];
      if (this.closed) return;
      if (!head) {
        if (seen === this.wakeups) await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      attempt++;
      const outcome = await this.send(head, attempt);
      if (this.closed) return;
      if (outcome.ok) {
        await outbox.remove(this.config.name, head.seq);
        this.lookahead.shift();
        this.queued--;
        this.counts.delivered++;
        this.lastSuccessAtMs = this.deps.clock.now();
        this.everDelivered = true;
        this.deps.events.delivered?.(this.config.name);
        attempt = 0;
        if (this.paused && this.queued <= this.deps.limits.maxQueuedMessages / 2) {
          this.paused = false;
          this.subscribeFrom(this.sourcePosition);
        }
        continue;
      }
      this.counts.failedAttempts++;
      this.lastError = outcome.error;
      this.deps.events.failedAttempt?.(this.config.name);
      const delayMs = retryDelayMs(backoff, attempt, random);
      logger.warn(
        {
          subscriber: this.config.name,
          messageId: head.messageId,
          attempt,
          error: outcome.error,
          retryInMs: delayMs,
        },
        'webhook: delivery failed; retrying',
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.cancelSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.cancelSleep = undefined;
    }
  }

  private async send(m: QueuedMessage, attempt: number): Promise<PostOutcome> {
    const body = Buffer.from(m.xml, 'utf8');
    const timestampMs = this.deps.clock.now();
    const headers: Record<string, string> = {
      'content-type': 'application/xml; charset=utf-8',
      'user-agent': 'meterfabric-webhook/1',
      [IDEMPOTENCY_HEADER]: m.messageId,
      'x-meterfabric-noun': m.noun,
      'x-meterfabric-position': String(m.position),
      'x-meterfabric-attempt': String(attempt),
      [TIMESTAMP_HEADER]: String(timestampMs),
      ...(m.correlationId ? { 'x-meterfabric-correlation-id': m.correlationId } : {}),
      ...(this.config.secret
        ? { [SIGNATURE_HEADER]: signWebhook(this.config.secret, timestampMs, body) }
        : {}),
    };
    const { outcome, abort } = this.target.post(body, headers, {
      timeoutMs: this.config.requestTimeoutMs ?? this.deps.limits.requestTimeoutMs,
      maxResponseBytes: this.deps.limits.maxResponseBytes,
    });
    this.abortRequest = abort;
    try {
      return await outcome;
    } finally {
      this.abortRequest = undefined;
    }
  }
}
