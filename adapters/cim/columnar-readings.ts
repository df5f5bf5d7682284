import { MeterfabricError } from '../../core/errors.js';
import type { CollectedReading, InternalQuantity, ReadingKind } from '../field-data.js';

/**
 * Collected readings as a compact columnar batch for the worker pool. Structured-cloning an
 * array of reading objects (each with a nested quantity) cost more than encoding them, which
 * made the pool slower than the main thread. Here the per-reading numbers travel in typed
 * arrays (movable without a copy) and everything repeated (meter serials, usage points, the
 * kind/quantity/unit/interval/qualities "type" of a reading) is sent once per batch in a table
 * and referenced by index. `unpackReadings` rebuilds readings that the encoders treat exactly
 * like the originals (every field they read is carried over unchanged), so the worker can run
 * the very same encoder and the output is byte-identical to the main thread's.
 */
export type ReadingTypeEntry = {
  kind: ReadingKind;
  quantity: InternalQuantity;
  unit: string;
  intervalSeconds?: number;
  qualities?: string[];
};

export type ReadingColumns = {
  count: number;
  /** Meter serials and usage points, each distinct string once. */
  strings: string[];
  types: ReadingTypeEntry[];
  meter: Uint32Array;
  /** Index into `strings`, or NO_USAGE_POINT. */
  usagePoint: Uint32Array;
  type: Uint32Array;
  value: Float64Array;
  timestampMs: Float64Array;
};

export const NO_USAGE_POINT = 0xffff_ffff;

/** Upper bound of readings in one packed batch (one CIM message); a bigger one is refused. */
export const maxReadingsPerBatch = 1_000_000;
/** Upper bound of the string and type tables of one batch. */
export const maxTableEntries = 2 * maxReadingsPerBatch;

export class ColumnarBatchError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_POOL_BATCH_INVALID', message, details);
    this.name = 'ColumnarBatchError';
  }
}

function sameQualities(a: string[] | undefined, b: string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type QuantityFields = { source: string; code?: string; dpt?: string; quantity?: string };

/** Same fields present with the same values: the reading-type lookup sees no difference. */
function sameQuantity(a: InternalQuantity, b: InternalQuantity): boolean {
  if (a === b) return true;
  const x = a as QuantityFields;
  const y = b as QuantityFields;
  return (
    x.source === y.source &&
    x.code === y.code &&
    x.dpt === y.dpt &&
    x.quantity === y.quantity &&
    'code' in x === 'code' in y &&
    'dpt' in x === 'dpt' in y &&
    'quantity' in x === 'quantity' in y
  );
}

function typeKey(r: CollectedReading): string {
  const q = r.quantity as QuantityFields;
  return JSON.stringify([
    r.kind,
    r.unit,
    r.intervalSeconds ?? null,
    r.qualities ?? null,
    q.source,
    'code' in q,
    q.code ?? null,
    'dpt' in q,
    q.dpt ?? null,
    'quantity' in q,
    q.quantity ?? null,
  ]);
}

function sameType(r: CollectedReading, t: ReadingTypeEntry): boolean {
  return (
    r.kind === t.kind &&
    r.unit === t.unit &&
    r.intervalSeconds === t.intervalSeconds &&
    sameQuantity(r.quantity, t.quantity) &&
    sameQualities(r.qualities, t.qualities)
  );
}

/**
 * A string table that remembers, per column, the last string it looked up: consecutive
 * readings mostly repeat their meter and usage point. (One memo for both columns missed on
 * every lookup, as meter and usage point alternate: a Map lookup per string per reading, 28%
 * of packing.)
 */
class StringTable {
  readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  private lastMeter: string | undefined;
  private lastMeterIndex = 0;
  private lastPoint: string | undefined;
  private lastPointIndex = 0;

  meter(s: string): number {
    if (s === this.lastMeter) return this.lastMeterIndex;
    this.lastMeterIndex = this.of(s);
    this.lastMeter = s;
    return this.lastMeterIndex;
  }

  usagePoint(s: string): number {
    if (s === this.lastPoint) return this.lastPointIndex;
    this.lastPointIndex = this.of(s);
    this.lastPoint = s;
    return this.lastPointIndex;
  }

  private of(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** Packs readings in order; throws MF_POOL_BATCH_INVALID for a value or time that is not a number. */
export function packReadings(readings: readonly CollectedReading[]): ReadingColumns {
  return packReadingLists([readings]).columns;
}

/**
 * Several lists (one per message) packed as one batch: one string table, one type table and
 * one set of columns for all of them, `ends[i]` the end of list i in the columns
 * (`readingListColumns` gives list i back as columns). Why: a pool task of 32 messages packed
 * one by one moved 160 column buffers and cloned 32 tables; the structured clone cost the
 * main thread about half as much again as the packing (session 20).
 */
export type ReadingListColumns = { columns: ReadingColumns; ends: number[] };

export function packReadingLists(lists: readonly (readonly CollectedReading[])[]): ReadingListColumns {
  let count = 0;
  for (const list of lists) count += list.length;
  if (count > maxReadingsPerBatch)
    throw new ColumnarBatchError(
      `a packed batch holds at most ${maxReadingsPerBatch} readings, got ${count}; split it into several messages`,
      { count, maxReadingsPerBatch },
    );
  const strings = new StringTable();
  const types: ReadingTypeEntry[] = [];
  const typeIndex = new Map<string, number>();
  const meter = new Uint32Array(count);
  const usagePoint = new Uint32Array(count);
  const type = new Uint32Array(count);
  const value = new Float64Array(count);
  const timestampMs = new Float64Array(count);
  const ends: number[] = new Array(lists.length);
  let lastType = -1;
  let at = 0;
  for (const [l, readings] of lists.entries()) {
    for (let i = 0; i < readings.length; i++, at++) {
      const r = readings[i]!;
      if (typeof r.value !== 'number' || typeof r.timestampMs !== 'number')
        throw new ColumnarBatchError(
          `reading ${i}${lists.length > 1 ? ` of list ${l}` : ''} (meter ${String(r.meterSerial)}) has a value or timestamp that is not a number`,
          lists.length > 1 ? { index: i, list: l } : { index: i },
        );
      meter[at] = strings.meter(r.meterSerial);
      usagePoint[at] = r.usagePoint === undefined ? NO_USAGE_POINT : strings.usagePoint(r.usagePoint);
      if (lastType < 0 || !sameType(r, types[lastType]!)) {
        const key = typeKey(r);
        let t = typeIndex.get(key);
        if (t === undefined) {
          t = types.length;
          const entry: ReadingTypeEntry = { kind: r.kind, quantity: r.quantity, unit: r.unit };
          if (r.intervalSeconds !== undefined) entry.intervalSeconds = r.intervalSeconds;
          if (r.qualities !== undefined) entry.qualities = r.qualities;
          types.push(entry);
          typeIndex.set(key, t);
        }
        lastType = t;
      }
      type[at] = lastType;
      value[at] = r.value;
      timestampMs[at] = r.timestampMs;
    }
    ends[l] = at;
  }
  return {
    columns: { count, strings: strings.strings, types, meter, usagePoint, type, value, timestampMs },
    ends,
  };
}

/**
 * Checks `ends` against its columns (it came over the thread boundary): one end per list, in
 * order, the last at the columns' count, at most `maxLists`.
 */
export function checkListEnds(ends: unknown, count: number, maxLists: number): asserts ends is number[] {
  if (!Array.isArray(ends) || ends.length > maxLists)
    throw new ColumnarBatchError(`a packed batch's list ends are an array of at most ${maxLists} entries`);
  let previous = 0;
  for (const [i, end] of ends.entries()) {
    if (!Number.isSafeInteger(end) || end < previous || end > count)
      throw new ColumnarBatchError(`list end ${i} (${String(end)}) is not between ${previous} and ${count}`, {
        list: i,
      });
    previous = end;
  }
  if (previous !== count)
    throw new ColumnarBatchError(`the list ends stop at ${previous}, the batch holds ${count} readings`);
}

/** List `index` of a packed batch as columns of its own: views into the batch's, its tables shared. */
export function readingListColumns(batch: ReadingListColumns, index: number): ReadingColumns {
  const from = index === 0 ? 0 : batch.ends[index - 1]!;
  const to = batch.ends[index]!;
  const c = batch.columns;
  return {
    count: to - from,
    strings: c.strings,
    types: c.types,
    meter: c.meter.subarray(from, to),
    usagePoint: c.usagePoint.subarray(from, to),
    type: c.type.subarray(from, to),
    value: c.value.subarray(from, to),
    timestampMs: c.timestampMs.subarray(from, to),
  };
}

/** The column buffers, for `transferList` (the caller's columns are unusable afterwards). */
export function readingColumnBuffers(c: ReadingColumns): ArrayBuffer[] {
  return [c.meter, c.usagePoint, c.type, c.value, c.timestampMs].map((a) => a.buffer as ArrayBuffer);
}

function checkColumn(name: string, column: unknown, ctor: { name: string }, count: number): void {
  if (!(column instanceof (ctor as typeof Uint32Array)) || (column as Uint32Array).length !== count)
    throw new ColumnarBatchError(`column ${name} must be a ${ctor.name} of ${count} entries`, {
      column: name,
    });
}

/** Checks a batch that came over the thread boundary: shapes, lengths and every index in range. */
export function checkReadingColumns(c: ReadingColumns): void {
  if (typeof c !== 'object' || c === null || !Number.isSafeInteger(c.count) || c.count < 0)
    throw new ColumnarBatchError('a packed reading batch needs a non-negative integer count');
  if (c.count > maxReadingsPerBatch)
    throw new ColumnarBatchError(
      `a packed batch holds at most ${maxReadingsPerBatch} readings, got ${c.count}`,
    );
  if (!Array.isArray(c.strings) || !Array.isArray(c.types))
    throw new ColumnarBatchError('a packed reading batch needs string and type tables');
  if (c.strings.length > maxTableEntries || c.types.length > maxTableEntries)
    throw new ColumnarBatchError(`a packed batch's tables hold at most ${maxTableEntries} entries`);
  // The encoder writes table entries as text: a forged non-string would not be what any reading held.
  for (const s of c.strings)
    if (typeof s !== 'string')
      throw new ColumnarBatchError("a packed batch's string table holds only strings");
  checkColumn('meter', c.meter, Uint32Array, c.count);
  checkColumn('usagePoint', c.usagePoint, Uint32Array, c.count);
  checkColumn('type', c.type, Uint32Array, c.count);
  checkColumn('value', c.value, Float64Array, c.count);
  checkColumn('timestampMs', c.timestampMs, Float64Array, c.count);
  const nStrings = c.strings.length;
  const nTypes = c.types.length;
  for (let i = 0; i < c.count; i++) {
    const up = c.usagePoint[i]!;
    if (c.meter[i]! >= nStrings || c.type[i]! >= nTypes || (up !== NO_USAGE_POINT && up >= nStrings))
      throw new ColumnarBatchError(`reading ${i} refers past the batch's tables`, { index: i });
  }
}

/** The readings back, in order, each carrying exactly the fields the encoders read. */
export function unpackReadings(c: ReadingColumns): CollectedReading[] {
  checkReadingColumns(c);
  const out: CollectedReading[] = new Array(c.count);
  const { strings, types, meter, usagePoint, type, value, timestampMs } = c;
  for (let i = 0; i < c.count; i++) {
    const t = types[type[i]!]!;
    const up = usagePoint[i]!;
    // One object shape for all readings keeps the encoder's property reads monomorphic.
    out[i] = {
      meterSerial: strings[meter[i]!]!,
      usagePoint: up === NO_USAGE_POINT ? undefined : strings[up]!,
      kind: t.kind,
      quantity: t.quantity,
      value: value[i]!,
      unit: t.unit,
      timestampMs: timestampMs[i]!,
      intervalSeconds: t.intervalSeconds,
      qualities: t.qualities,
    } as CollectedReading;
  }
  return out;
}
