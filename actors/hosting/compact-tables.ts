import type { CollectedReading } from '../../adapters/field-data.js';
import type { PackedList } from './compact-format.js';

/**
 * The packer's tables (actors/hosting/compact-records.ts): meters, reading types and record
 * contexts, each row once, indexed in order of first appearance. Each table gives the rows
 * and indexes a table keyed by the row's JSON would give, found without building that key
 * per reading where it can (issue 7: the keys were a third of the packer's time on the nodes).
 */

function sameStrings(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Same kind, unit, interval and qualities: a reading type but for its quantity, which callers
 * compare their own way (the type cache by identity, the packer's run check by value).
 */
export function sameTypeFields(a: CollectedReading, b: CollectedReading): boolean {
  return (
    a.kind === b.kind &&
    a.unit === b.unit &&
    a.intervalSeconds === b.intervalSeconds &&
    sameStrings(a.qualities, b.qualities)
  );
}

/** Index tables keyed by an exact string key, remembering the last key for repeated rows. */
export class Table<T> {
  readonly rows: T[] = [];
  private readonly index = new Map<string, number>();
  indexOf(key: string, row: () => T): number {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.rows.length;
      this.rows.push(row());
      this.index.set(key, i);
    }
    return i;
  }
}

/**
 * The meter table by serial, then usage point: the same rows in the same order as a table
 * keyed by `[serial, usagePoint]`, without building and hashing a key per reading (issue 7:
 * replies interleave meters, and the key was a third of the packer's time). A serial read
 * from JSON hashes once: V8 caches a string's hash in the string.
 */
export class MeterTable {
  readonly rows: ([string] | [string, string])[] = [];
  private readonly bySerial = new Map<string, Map<string | undefined, number>>();
  indexOf(serial: string, up: string | undefined): number {
    let ups = this.bySerial.get(serial);
    if (ups === undefined) {
      ups = new Map();
      this.bySerial.set(serial, ups);
    }
    let i = ups.get(up);
    if (i === undefined) {
      i = this.rows.length;
      this.rows.push(up === undefined ? [serial] : [serial, up]);
      ups.set(up, i);
    }
    return i;
  }
}

type TypeRow = PackedList['t'][number];

/**
 * The type table: rows keyed by the JSON of `[kind, quantity, unit, interval, qualities]`,
 * with a cache in front by the quantity object itself. Unpacked readings of one list share
 * their quantity objects, so a reading whose type differs from the previous one's (a daily
 * closure's registers, interleaved channels) is found by identity and a few comparisons
 * instead of a JSON key per reading. A cache hit returns the index the key lookup returned
 * for an equal type, so the rows and indexes are those of the keyed table alone.
 */
export class TypeTable {
  private readonly table = new Table<TypeRow>();
  private readonly byQuantity = new Map<unknown, { r: CollectedReading; t: number }[]>();
  get rows(): TypeRow[] {
    return this.table.rows;
  }
  indexOf(r: CollectedReading): number {
    const seen = this.byQuantity.get(r.quantity);
    if (seen !== undefined) {
      for (const s of seen) if (sameTypeFields(s.r, r)) return s.t;
    }
    const interval = r.intervalSeconds ?? null;
    const qualities = r.qualities ?? null;
    const t = this.table.indexOf(JSON.stringify([r.kind, r.quantity, r.unit, interval, qualities]), () => [
      r.kind,
      r.quantity,
      r.unit,
      interval,
      qualities,
    ]);
    if (seen === undefined) this.byQuantity.set(r.quantity, [{ r, t }]);
    else if (seen.length < 8) seen.push({ r, t });
    return t;
  }
}

/** The context table by concentrator, instant, then correlation id (rows as keyed by all three). */
export class ContextTable {
  readonly rows: PackedList['c'][number][] = [];
  private readonly index = new Map<string, Map<number, Map<string | undefined, number>>>();
  indexOf(concentratorId: string, collectedAtMs: number, corr: string | undefined): number {
    let byInstant = this.index.get(concentratorId);
    if (byInstant === undefined) {
      byInstant = new Map();
      this.index.set(concentratorId, byInstant);
    }
    let byCorr = byInstant.get(collectedAtMs);
    if (byCorr === undefined) {
      byCorr = new Map();
      byInstant.set(collectedAtMs, byCorr);
    }
    let i = byCorr.get(corr);
    if (i === undefined) {
      i = this.rows.length;
      this.rows.push(
        corr === undefined ? [concentratorId, collectedAtMs] : [concentratorId, collectedAtMs, corr],
      );
      byCorr.set(corr, i);
    }
    return i;
  }
}
