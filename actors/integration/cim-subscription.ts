import type { PublishedEntry, PublishedMessage } from './cim-message.js';

/**
 * A subscriber of CimPublisher catching up from the files (session 17). The publisher's window
 * keeps only each message's metadata when it writes files, so a subscriber resuming from a
 * checkpoint behind the newest message reads the messages after it from their files, in order,
 * a bounded chunk at a time, and joins the live listeners (which get the bytes at publish time)
 * in the same synchronous step in which it found nothing more to read: no message is delivered
 * twice or skipped between the two. A file missing or torn ends the window there
 * (MF_CHECKPOINT_EXPIRED for this subscriber and every later checkpoint before it), as at a
 * restart (cim-window.ts); nothing is invented.
 */

export type Listener = (m: PublishedMessage) => void;

export type SubscribeOptions = {
  /**
   * Awaited before each chunk read from the files: a subscriber that cannot take more yet (a
   * gRPC stream whose client reads slowly) holds the catch-up back, so reading a backlog never
   * buffers more than a chunk ahead of it.
   */
  ready?: () => Promise<void> | void;
  /**
   * Catching up stopped and the subscription is over: a CheckpointExpiredError when the window
   * no longer holds the next message (its file is torn or missing, or the window moved past it
   * meanwhile; resubscribe from `err.details.resumeFrom`), else the error reading a file. Also
   * the rejection of `caughtUp`.
   */
  onError?: (err: unknown) => void;
};

/** Unsubscribes when called; `caughtUp` settles once the subscriber gets live messages. */
export type Subscription = (() => void) & { readonly caughtUp: Promise<void> };

/** What catching up needs from the publisher. */
export type CatchUpSource = {
  /** Window entries after `position`, oldest first: at most `maxMessages`, and `maxBytes` (at least one). */
  entriesAfter(position: number, maxMessages: number, maxBytes: number): PublishedEntry[];
  /** An entry's bytes from its file; undefined when it is missing or torn. */
  read(entry: PublishedEntry): Promise<Uint8Array | undefined>;
  /** The window ends at `position` (a torn or missing file): drops it and everything before it. */
  cut(position: number): void;
  /** Throws MF_CHECKPOINT_EXPIRED if `checkpoint` can no longer be served. */
  check(checkpoint: number): void;
  attach(listener: Listener): void;
  detach(listener: Listener): void;
};

/** Messages and bytes read from the files per step: bounded memory per resuming subscriber. */
export const catchUpChunk = { messages: 32, bytes: 8 * 1024 * 1024 };
/** Files read at once within a chunk. */
const readConcurrency = 8;

export function catchUp(
  source: CatchUpSource,
  checkpoint: number,
  listener: Listener,
  options: SubscribeOptions,
): Subscription {
  let lastDelivered = checkpoint;
  let stopped = false;
  // Replayed batches carry positions a subscriber may have seen: only positions above its last.
  const deliver: Listener = (m) => {
    if (m.position <= lastDelivered) return;
    lastDelivered = m.position;
    listener(m);
  };
  const run = async (): Promise<void> => {
    for (;;) {
      await options.ready?.();
      if (stopped) return;
      // Throws when the window moved past this subscriber while it was reading.
      source.check(lastDelivered);
      const chunk = source.entriesAfter(lastDelivered, catchUpChunk.messages, catchUpChunk.bytes);
      if (chunk.length === 0) {
        // Synchronous from the check above to here: nothing can be published in between.
        source.attach(deliver);
        return;
      }
      const contents: (Uint8Array | undefined)[] = new Array(chunk.length);
      for (let i = 0; i < chunk.length; i += readConcurrency)
        await Promise.all(
          chunk.slice(i, i + readConcurrency).map(async (e, j) => {
            contents[i + j] = await source.read(e);
          }),
        );
      if (stopped) return;
      for (const [i, e] of chunk.entries()) {
        // Unsubscribed by the listener itself (a subscriber that fell behind): not one more.
        if (stopped) return;
        const bytes = contents[i];
        if (bytes === undefined) {
          source.cut(e.position);
          source.check(lastDelivered);
        }
        const { byteLength: _, ...meta } = e;
        deliver({ ...meta, bytes: bytes as Uint8Array });
      }
    }
  };
  const caughtUp = run();
  caughtUp.catch((err: unknown) => {
    if (!stopped) options.onError?.(err);
  });
  const unsubscribe = () => {
    stopped = true;
    source.detach(deliver);
  };
  return Object.assign(unsubscribe, { caughtUp });
}
