/**
 * Tunnelling sequence rules (reference §1.5), shared by the client session and the gateway
 * simulator. Two independent 8-bit counters per connection, one per direction, both starting at
 * 0 after CONNECT and wrapping 255 -> 0.
 */

export type IncomingVerdict =
  /** seq == expected: ACK, deliver, advance. */
  | 'deliver'
  /** seq == expected - 1: the peer missed our ACK; ACK again but do not deliver twice. */
  | 'duplicate'
  /** anything else: discard without ACK (the peer will repeat or reconnect). */
  | 'discard';

export function classifyIncoming(expected: number, received: number): IncomingVerdict {
  if (received === expected) return 'deliver';
  if (received === ((expected + 255) & 0xff)) return 'duplicate';
  return 'discard';
}

export const nextSequence = (seq: number): number => (seq + 1) & 0xff;

/**
 * The sending side: one request outstanding at a time, sent once and repeated exactly once
 * with the same sequence number when no ACK arrives in time.
 */
export class OutboundWindow<T> {
  private sequence = 0;
  private outstanding: { item: T; sequence: number; attempts: number; deadlineMs: number } | undefined;

  constructor(
    private readonly ackTimeoutMs: number,
    private readonly maxAttempts = 2,
  ) {}

  get busy(): boolean {
    return this.outstanding !== undefined;
  }
  get nextSeq(): number {
    return this.sequence;
  }
  get deadlineMs(): number | undefined {
    return this.outstanding?.deadlineMs;
  }
  get current(): { item: T; sequence: number } | undefined {
    return this.outstanding;
  }

  reset(): void {
    this.sequence = 0;
    this.outstanding = undefined;
  }

  /** Starts sending `item`; returns the sequence number to put in the request. */
  start(item: T, nowMs: number): number {
    if (this.outstanding) throw new Error('OutboundWindow: a request is already outstanding');
    this.outstanding = { item, sequence: this.sequence, attempts: 1, deadlineMs: nowMs + this.ackTimeoutMs };
    return this.sequence;
  }

  /** An ACK arrived: returns the acknowledged item if the sequence matches the outstanding one. */
  acknowledge(sequence: number): T | undefined {
    if (!this.outstanding || this.outstanding.sequence !== sequence) return undefined;
    const { item } = this.outstanding;
    this.outstanding = undefined;
    this.sequence = nextSequence(this.sequence);
    return item;
  }

  /**
   * Called when time passes: 'repeat' (send the same request again), 'give-up' (no ACK after
   * the last attempt; the item is dropped and the counter does not advance) or 'wait'.
   */
  onTime(
    nowMs: number,
  ): { action: 'wait' } | { action: 'repeat'; item: T; sequence: number } | { action: 'give-up'; item: T } {
    const o = this.outstanding;
    if (!o || nowMs < o.deadlineMs) return { action: 'wait' };
    if (o.attempts < this.maxAttempts) {
      o.attempts++;
      o.deadlineMs = nowMs + this.ackTimeoutMs;
      return { action: 'repeat', item: o.item, sequence: o.sequence };
    }
    this.outstanding = undefined;
    return { action: 'give-up', item: o.item };
  }
}
