import type { Lsn } from './contract.js';
import type { LogEntry } from './disk/partition-store.js';

/**
 * Recent log entries in memory, contiguous from lowLsn up: the primary sends from here, and
 * both roles apply from here. Older entries are read back from the log on disk. Bounded:
 * beyond `maxEntries` the oldest go (they are on disk by then: the replication queue and the
 * in-flight window are both far smaller than the cache).
 */
export class EntryCache {
  private readonly entries = new Map<Lsn, LogEntry>();
  private low: Lsn;
  private next: Lsn;

  constructor(
    nextLsn: Lsn,
    private readonly maxEntries: number,
  ) {
    this.low = nextLsn;
    this.next = nextLsn;
  }

  /** Lowest LSN held (equal to the next LSN when empty). */
  get lowLsn(): Lsn {
    return this.low;
  }

  add(entry: LogEntry): void {
    if (entry.lsn !== this.next) this.clear(entry.lsn);
    this.entries.set(entry.lsn, entry);
    this.next = entry.lsn + 1;
    while (this.entries.size > this.maxEntries) this.entries.delete(this.low++);
  }

  has(lsn: Lsn): boolean {
    return this.entries.has(lsn);
  }

  covers(lsn: Lsn): boolean {
    return lsn >= this.low && lsn < this.next;
  }

  range(fromLsn: Lsn, toLsn: Lsn): LogEntry[] {
    const out: LogEntry[] = [];
    for (let lsn = fromLsn; lsn <= toLsn; lsn++) {
      const entry = this.entries.get(lsn);
      if (!entry) break;
      out.push(entry);
    }
    return out;
  }

  truncateAfter(keepThroughLsn: Lsn): void {
    for (let lsn = keepThroughLsn + 1; lsn < this.next; lsn++) this.entries.delete(lsn);
    this.next = Math.max(this.low, Math.min(this.next, keepThroughLsn + 1));
    if (this.entries.size === 0) this.low = this.next;
  }

  releaseBelow(lsn: Lsn): void {
    const until = Math.min(lsn, this.next);
    while (this.low < until) this.entries.delete(this.low++);
  }

  clear(nextLsn: Lsn): void {
    this.entries.clear();
    this.low = nextLsn;
    this.next = nextLsn;
  }
}
