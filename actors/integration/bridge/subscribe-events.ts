import { MeterfabricError } from '../../../core/errors.js';
import type { PublishedMessage } from '../cim-message.js';
import type { CimPublisher } from '../cim-publisher.js';
import type { Subscription } from '../cim-subscription.js';
import { encodePublishedMessageWire } from './published-wire.js';

/**
 * One SubscribeEvents stream, bounded in memory however slowly its client reads (session 18).
 *
 * grpc-js completes a reply's write once the HTTP/2 stream has handed it on, which a client that
 * stops reading (flow-control window or TCP window full) holds back: every reply written after
 * that waits in the call's and the stream's queues. So this counts the bytes written to the call
 * whose write has not completed (`bufferedBytes`) and never lets them pass
 * `maxSubscriberBufferedBytes`: a live message that would is not written; the subscriber is
 * detached from the live listeners instead, and once the client has taken enough (at most half
 * the bound waiting, and room for that message) it resubscribes from the last position it was
 * sent. With files, that reads the messages published meanwhile from them (cim-subscription.ts,
 * a chunk at a time, each chunk only when at most half the bound waits) and rejoins the live
 * listeners when it has caught up: nothing lost, nothing twice, memory bounded. If the window
 * has moved past that position meanwhile the stream ends with MF_CHECKPOINT_EXPIRED (its
 * `resumeFrom`); without files (no out dir) there is nothing to catch up from, so the stream
 * ends with MF_SUBSCRIBER_OVERFLOW and the position to resume from. Never a silent drop.
 */

/** Bytes waiting for a slow SubscribeEvents client, per stream, unless configured. */
export const defaultMaxSubscriberBufferedBytes = 32 * 1024 * 1024;

/** SubscribeEvents streams open at once per bridge, unless configured: each may hold its bound in memory. */
export const defaultMaxSubscribers = 16;

/** A SubscribeEvents stream refused because the bridge already serves `maxSubscribers` streams. */
export class TooManySubscribersError extends MeterfabricError {
  constructor(maxSubscribers: number, afterPosition: number) {
    super(
      'MF_TOO_MANY_SUBSCRIBERS',
      `this bridge already serves ${maxSubscribers} SubscribeEvents streams (maxSubscribers; each may hold maxSubscriberBufferedBytes for its client); close a stream you no longer read, or retry later from position ${afterPosition}`,
      { maxSubscribers, resumeFrom: afterPosition },
    );
    this.name = 'TooManySubscribersError';
  }
}

/** The stream's client fell behind by more than its bound and there are no files to catch it up from. */
export class SubscriberOverflowError extends MeterfabricError {
  constructor(resumeFrom: number, bufferedBytes: number, maxSubscriberBufferedBytes: number) {
    super(
      'MF_SUBSCRIBER_OVERFLOW',
      `the subscriber reads more slowly than messages are published: ${bufferedBytes} bytes were waiting for it and the next message would pass maxSubscriberBufferedBytes (${maxSubscriberBufferedBytes}); this publisher writes no files to catch it up from, so the stream ends here: every message up to position ${resumeFrom} was sent, resubscribe from ${resumeFrom}`,
      { resumeFrom, bufferedBytes, maxSubscriberBufferedBytes },
    );
    this.name = 'SubscriberOverflowError';
  }
}

/** Where replies go: the gRPC call, seen only through what the bound needs. */
export type ReplySink = {
  /** Writes one reply; `taken` runs once the transport has taken it (the write's callback). */
  write(wire: Buffer, taken: () => void): void;
  /** Ends the stream with this error after the replies already written. */
  fail(err: unknown): void;
};

export type SubscriberStats = {
  /** Bytes written to the call whose write has not completed. */
  bufferedBytes: number;
  /** The most `bufferedBytes` has been. */
  peakBufferedBytes: number;
  /** Times the subscriber was detached from the live listeners to catch up from the files. */
  fellBehind: number;
  /** Position of the last message sent (or skipped by the noun filter). */
  lastPosition: number;
};

type Source = Pick<CimPublisher, 'subscribe' | 'writesFiles'>;

export class BoundedSubscriber {
  private bufferedBytes = 0;
  private peakBufferedBytes = 0;
  private fellBehind = 0;
  private lastPosition: number;
  private subscription: Subscription | undefined;
  /** Bumped whenever the current subscription is given up: messages it still delivers are ignored. */
  private generation = 0;
  private ended = false;
  /** Callers waiting until at most `bytes` are buffered (or the stream ends). */
  private readonly waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(
    private readonly source: Source,
    private readonly sink: ReplySink,
    private readonly options: {
      afterPosition: number;
      /** Nouns to send; empty: all. */
      nouns: ReadonlySet<string>;
      maxSubscriberBufferedBytes: number;
      /** Each time it falls behind (the bridge's fell-behind counter, subscriber-metrics.ts). */
      onFellBehind?: () => void;
    },
  ) {
    this.lastPosition = options.afterPosition;
  }

  /** Subscribes from the requested position; a refusal (an expired checkpoint) ends the stream. */
  start(): void {
    this.subscribe();
  }

  /** The client went away: unsubscribes, and nothing more is written. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.detach();
    this.wake();
  }

  stats(): SubscriberStats {
    return {
      bufferedBytes: this.bufferedBytes,
      peakBufferedBytes: this.peakBufferedBytes,
      fellBehind: this.fellBehind,
      lastPosition: this.lastPosition,
    };
  }

  private subscribe(): void {
    if (this.ended) return;
    const generation = ++this.generation;
    let subscription: Subscription;
    try {
      subscription = this.source.subscribe(this.lastPosition, (m) => this.offer(m, generation), {
        // A backlog is read from the files only as fast as the client takes it.
        ready: () => this.drained(this.options.maxSubscriberBufferedBytes / 2),
        onError: (err) => this.end(err),
      });
    } catch (err) {
      this.end(err);
      return;
    }
    // Without files the backlog is delivered within subscribe: it may have overflowed already.
    if (generation !== this.generation) subscription();
    else this.subscription = subscription;
  }

  private offer(m: PublishedMessage, generation: number): void {
    if (generation !== this.generation || m.position <= this.lastPosition) return;
    if (this.options.nouns.size > 0 && !this.options.nouns.has(m.noun)) {
      this.lastPosition = m.position;
      return;
    }
    // Encoded now: the bytes may be lent for this call only (cim-publisher.ts).
    const wire = encodePublishedMessageWire(m);
    const max = this.options.maxSubscriberBufferedBytes;
    // One message is always let through when nothing waits: a message larger than the bound
    // must not stall the stream for good.
    if (this.bufferedBytes > 0 && this.bufferedBytes + wire.byteLength > max) {
      this.fallBehind(wire.byteLength);
      return;
    }
    this.lastPosition = m.position;
    this.bufferedBytes += wire.byteLength;
    this.peakBufferedBytes = Math.max(this.peakBufferedBytes, this.bufferedBytes);
    this.sink.write(wire, () => {
      this.bufferedBytes -= wire.byteLength;
      this.wake();
    });
  }

  /** The message that did not fit is the first one the next subscription delivers. */
  private fallBehind(messageBytes: number): void {
    this.detach();
    const max = this.options.maxSubscriberBufferedBytes;
    if (!this.source.writesFiles) {
      this.end(new SubscriberOverflowError(this.lastPosition, this.bufferedBytes, max));
      return;
    }
    this.fellBehind++;
    this.options.onFellBehind?.();
    // Room for that message, and hysteresis: not detached again by the next few messages.
    const resumeAt = Math.max(0, Math.min(max / 2, max - messageBytes));
    // Never within the publisher's call of this listener: its listeners are being iterated.
    void Promise.resolve(this.drained(resumeAt)).then(() => this.subscribe());
  }

  private detach(): void {
    this.generation++;
    const subscription = this.subscription;
    this.subscription = undefined;
    subscription?.();
  }

  private end(err: unknown): void {
    if (this.ended) return;
    this.close();
    this.sink.fail(err);
  }

  /** Resolves once at most `bytes` are buffered or the stream ended; undefined if so already. */
  private drained(bytes: number): Promise<void> | undefined {
    if (this.ended || this.bufferedBytes <= bytes) return undefined;
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i] as { bytes: number; resolve: () => void };
      if (this.ended || this.bufferedBytes <= waiter.bytes) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}
