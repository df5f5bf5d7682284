/**
 * One routed outbox entry's bookkeeping in the driver: how many of the deliveries and driver
 * actions it caused are still under way, and its acknowledgement, sent once all of them are
 * committed (or done) and never twice. Pure bookkeeping, no I/O: the driver passes in what
 * acknowledging means (ActorLanes.ack: held to ride on the source's next call).
 */
export class EntryDeliveries {
  /** Starts at one, held by the routing itself until every delivery is under way (`routed`). */
  private pending = 1;
  private acknowledged = false;
  /** Bytes (JSON) of the deliveries the entry caused: roughly what its source holds until acknowledged. */
  sizeBytes = 0;

  constructor(
    readonly id: number,
    private readonly acknowledge: (entryId: number, sizeBytes: number) => void,
  ) {}

  /** One more delivery or action under way. */
  readonly hold = (): void => {
    this.pending++;
  };

  /** One committed or done; the last one acknowledges the entry (unless a call carried it already). */
  readonly release = (): void => {
    if (--this.pending > 0 || this.acknowledged) return;
    this.acknowledged = true;
    this.acknowledge(this.id, this.sizeBytes);
  };

  /** Every delivery is under way: the routing's own hold is released. */
  routed(): void {
    this.release();
  }

  /**
   * Asked as a call carrying one of the entry's deliveries starts: when that delivery is the
   * last one outstanding, the entry's id, to be acknowledged in the same call (committed
   * together with it, or not at all); the later release then sends nothing.
   */
  readonly ackWithLast = (): number | undefined => {
    if (this.acknowledged || this.pending !== 1) return undefined;
    this.acknowledged = true;
    return this.id;
  };
}
