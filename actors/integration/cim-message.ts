import { createHash } from 'node:crypto';
import { MeterfabricError } from '../../core/errors.js';

/**
 * What CimPublisher publishes, apart from the publisher itself (cim-publisher.ts re-exports all
 * of it): message positions, the published message (its UTF-8 bytes), MessageIDs, and the error
 * an expired checkpoint gets.
 */

/** Messages per batch are numbered below this: position = seq * POSITIONS_PER_SEQ + index + 1. */
export const POSITIONS_PER_SEQ = 2 ** 20;
/** The highest seq whose positions are all safe integers. */
export const MAX_POSITION_SEQ = Math.floor(Number.MAX_SAFE_INTEGER / POSITIONS_PER_SEQ) - 1;

/** The position of the message at `index` in the batch at stream position `seq`. */
export function messagePosition(seq: number, index: number): number {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_POSITION_SEQ) {
    throw new MeterfabricError(
      'MF_POSITION_RANGE',
      `batch seq ${seq} is outside 0..${MAX_POSITION_SEQ}: message positions would not be safe integers`,
      { seq },
    );
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= POSITIONS_PER_SEQ - 1) {
    throw new MeterfabricError(
      'MF_POSITION_RANGE',
      `a batch may produce at most ${POSITIONS_PER_SEQ - 1} messages (message index ${index} at seq ${seq}); split the batch`,
      { seq, index },
    );
  }
  return seq * POSITIONS_PER_SEQ + index + 1;
}

export type PublishedMessage = {
  /** Global position (`seq * 2^20 + index + 1`, sparse, the same in every process): subscribers resume after a checkpoint. */
  position: number;
  noun: 'MeterReadings' | 'EndDeviceEvents';
  messageId: string;
  correlationId?: string;
  /**
   * The message's UTF-8 XML, exactly its file's content and the webhook's body; owned by the
   * message (shared by every subscriber: read it, never write it). `messageXml(m)` decodes it
   * for a consumer that truly needs a string.
   */
  bytes: Uint8Array;
};

/**
 * A published message without its bytes: what `CimPublisher.publish` resolves with and what the
 * retained window keeps per message when the publisher writes files (the bytes are in the
 * message's file, read again for a subscriber that resumes; session 17).
 */
export type PublishedEntry = Omit<PublishedMessage, 'bytes'> & { byteLength: number };

const utf8Decoder = new TextDecoder();

/** A published message's XML as text (decoded on each call: keep the result if it is used twice). */
export function messageXml(m: Pick<PublishedMessage, 'bytes'>): string {
  return utf8Decoder.decode(m.bytes);
}

export class CheckpointExpiredError extends MeterfabricError {
  /**
   * @param resumeFrom the oldest checkpoint this publisher can serve.
   * @param lost messages after `checkpoint` this process dropped (a lower bound when `lostExact` is false).
   */
  constructor(checkpoint: number, resumeFrom: number, lost: number, lostExact: boolean) {
    super(
      'MF_CHECKPOINT_EXPIRED',
      `checkpoint ${checkpoint} is older than what this publisher retains or knows (messages up to position ${resumeFrom} are no longer retained, or were published by an earlier process): resubscribe from ${resumeFrom} and reconcile the messages in between from the CIM files under <out>/cim/`,
      { checkpoint, resumeFrom, lost, lostExact },
    );
  }
}

/** A UUID-shaped id from a name (RFC 4122 version 5 layout over SHA-1). */
export function deterministicUuid(name: string): string {
  const hex = createHash('sha1').update(name).digest('hex');
  const variant = ((Number.parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}
