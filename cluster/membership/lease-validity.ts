/**
 * Pure bookkeeping of how long this node's membership lease is certainly valid. etcd3's
 * client reports a lost lease only after 2×TTL while etcd expires it after TTL, so a primary
 * must fence itself: the lease is valid until (send time of the keepalive that etcd answered)
 * + TTL − margin. Keepalives ride one ordered stream, so answers match sends in order.
 */
export class LeaseValidity {
  private readonly pendingSendsMs: number[] = [];
  private validUntilMs = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly marginMs: number,
    /** Bound on outstanding keepalives remembered (older ones are answered or lost). */
    private readonly maxPending = 16,
  ) {}

  /** The lease was granted by a request sent at `sentAtMs`. */
  granted(sentAtMs: number, grantedTtlMs = this.ttlMs): void {
    this.pendingSendsMs.length = 0;
    this.extend(sentAtMs + grantedTtlMs - this.marginMs);
  }

  keepaliveSent(atMs: number): void {
    this.pendingSendsMs.push(atMs);
    if (this.pendingSendsMs.length > this.maxPending) this.pendingSendsMs.shift();
  }

  /** etcd answered the oldest outstanding keepalive with the lease's remaining TTL. */
  keepaliveAnswered(remainingTtlMs: number): void {
    const sentAtMs = this.pendingSendsMs.shift();
    if (sentAtMs === undefined) return;
    if (remainingTtlMs <= 0) {
      this.lost();
      return;
    }
    this.extend(sentAtMs + remainingTtlMs - this.marginMs);
  }

  /** The keepalive stream broke: outstanding sends may never be answered. */
  keepaliveFailed(): void {
    this.pendingSendsMs.length = 0;
  }

  lost(): void {
    this.pendingSendsMs.length = 0;
    this.validUntilMs = 0;
  }

  get untilMs(): number {
    return this.validUntilMs;
  }

  isValid(nowMs: number): boolean {
    return nowMs < this.validUntilMs;
  }

  private extend(untilMs: number): void {
    // Validity only moves forward while the lease lives: a late answer to an old keepalive
    // must not shorten what a newer answer established.
    if (untilMs > this.validUntilMs) this.validUntilMs = untilMs;
  }
}
