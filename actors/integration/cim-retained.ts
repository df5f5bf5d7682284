import { CheckpointExpiredError, type PublishedEntry } from './cim-message.js';

/**
 * CimPublisher's retained window: the messages a subscriber resuming from a checkpoint gets,
 * bounded by count and by bytes of XML (the same bounds whether or not the bytes are held: with
 * an out dir they are in the files, session 17). A checkpoint is served only if no message after
 * it left the window (dropped by the bounds, cut at a torn or missing file) or was published by
 * an earlier process and is not in it; otherwise MF_CHECKPOINT_EXPIRED, never a silent skip.
 */

/** A message in the window: its bytes only without an out dir (else they are in its file). */
export type WindowEntry = PublishedEntry & { bytes?: Uint8Array };

export type WindowLimits = { maxMessages: number; maxBytes: number };

export class RetainedWindow {
  private entries: WindowEntry[] = [];
  private bytes = 0;
  /**
   * Checkpoints below this are not served: a message after them was dropped from the window, or
   * was published by an earlier process (its files are on disk, not in the window).
   */
  servedFrom = 0;
  /** Positions of dropped messages (bounded), to count what an expired checkpoint misses. */
  private dropped: number[] = [];
  private droppedRecordTrimmed = false;
  /** The last position an earlier process wrote (restoreFromDisk): older checkpoints' counts are lower bounds. */
  diskLastPosition = 0;

  constructor(private readonly limits: WindowLimits) {}

  get length(): number {
    return this.entries.length;
  }

  get newestPosition(): number {
    return this.entries.at(-1)?.position ?? 0;
  }

  /** Everything in the window, oldest first (read only). */
  all(): readonly WindowEntry[] {
    return this.entries;
  }

  find(position: number): WindowEntry | undefined {
    const e = this.entries[this.firstAfter(position - 1)];
    return e?.position === position ? e : undefined;
  }

  /** After a restart: the window rebuilt from the files (cim-window.ts). */
  restore(entries: WindowEntry[], bytes: number, servedFrom: number, olderPositions: number[]): void {
    this.entries.push(...entries);
    this.bytes = bytes;
    this.servedFrom = Math.max(this.servedFrom, servedFrom);
    // What an expired checkpoint misses, from the log (a lower bound: lostExact stays false).
    this.dropped = olderPositions;
    this.droppedRecordTrimmed = true;
  }

  /**
   * Keeps `m` for subscribers that resume. A replayed batch (restored from disk, then replayed by
   * the stream) replaces its earlier entry, so the window holds each position once, as on disk.
   */
  retain(m: WindowEntry): void {
    const last = this.entries.at(-1);
    if (!last || m.position > last.position) {
      this.entries.push(m);
      this.bytes += m.byteLength;
      return;
    }
    const at = this.firstAfter(m.position - 1);
    const existing = this.entries[at];
    if (existing?.position === m.position) {
      this.bytes += m.byteLength - existing.byteLength;
      this.entries[at] = m;
    } else if (m.position > this.servedFrom) {
      this.entries.splice(at, 0, m);
      this.bytes += m.byteLength;
    }
  }

  /** Drops the oldest entries beyond the bounds; the newest is always kept (a live subscriber has just seen it). */
  trim(): void {
    let drop = Math.max(0, this.entries.length - this.limits.maxMessages);
    let bytes = this.bytes;
    for (let i = 0; i < drop; i++) bytes -= (this.entries[i] as WindowEntry).byteLength;
    while (bytes > this.limits.maxBytes && drop < this.entries.length - 1) {
      bytes -= (this.entries[drop] as WindowEntry).byteLength;
      drop++;
    }
    this.dropOldest(drop);
  }

  /**
   * The file of the message at `position` is missing or torn: the window ends there, as at a
   * restart (cim-window.ts): it and everything before it leave the window, so every checkpoint
   * before it gets MF_CHECKPOINT_EXPIRED instead of a message invented or silently skipped.
   */
  cut(position: number): void {
    this.dropOldest(this.firstAfter(position));
    this.servedFrom = Math.max(this.servedFrom, position);
  }

  /** Throws MF_CHECKPOINT_EXPIRED when a message after `checkpoint` is not in the window. */
  check(checkpoint: number): void {
    if (checkpoint < this.servedFrom) {
      const lost = this.dropped.filter((p) => p > checkpoint).length;
      const lostExact = !this.droppedRecordTrimmed && checkpoint >= this.diskLastPosition;
      throw new CheckpointExpiredError(checkpoint, this.servedFrom, lost, lostExact);
    }
  }

  /** Entries after `position`, oldest first, at most `maxMessages` and `maxBytes` (at least one). */
  entriesAfter(position: number, maxMessages: number, maxBytes: number): PublishedEntry[] {
    const out: PublishedEntry[] = [];
    let bytes = 0;
    for (let i = this.firstAfter(position); i < this.entries.length && out.length < maxMessages; i++) {
      const e = this.entries[i] as WindowEntry;
      if (out.length > 0 && bytes + e.byteLength > maxBytes) break;
      out.push(e);
      bytes += e.byteLength;
    }
    return out;
  }

  /** Index of the first entry whose position is above `position`. */
  private firstAfter(position: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as WindowEntry).position <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private dropOldest(drop: number): void {
    if (drop === 0) return;
    for (const m of this.entries.splice(0, drop)) {
      this.bytes -= m.byteLength;
      this.servedFrom = Math.max(this.servedFrom, m.position);
      this.dropped.push(m.position);
    }
    // The record of dropped positions is bounded like the window; beyond it counts are lower bounds.
    if (this.dropped.length > 2 * this.limits.maxMessages) {
      this.dropped = this.dropped.slice(-this.limits.maxMessages);
      this.droppedRecordTrimmed = true;
    }
  }
}
