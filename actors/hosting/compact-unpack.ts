import { checkContextRows, checkTypeRows, forEachMeterRow } from '../../core/packed-list-tables.js';
import { recordId } from '../tlog/records.js';
import { classify, type RoutedRecord } from '../tlog/router.js';
import {
  CompactRecordsError,
  escapeMark,
  isObject,
  listMark,
  maxDepth,
  type PackedList,
  type ReadingRecord,
  runHeader,
} from './compact-format.js';

/** The unpacking half of compact-records.ts: checks packed input from the wire and rebuilds the value exactly. */

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new CompactRecordsError(`malformed compact record list: ${message}`, details);
}

function checkIndex(i: unknown, size: number, what: string): number {
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= size)
    bad(`${what} index ${String(i)} is outside its table of ${size}`);
  return i;
}

/** The part of a reading's id before its instant, or undefined if the id does not end with it. */
export function idPrefixOf(id: string, timestampMs: number): string | undefined {
  const tail = String(timestampMs);
  return id.endsWith(tail) ? id.slice(0, id.length - tail.length) : undefined;
}

function unpackList(p: Record<string, unknown>, depth: number): unknown[] {
  const level = p[listMark];
  const { n, m, t, c, r, o } = p;
  if (level !== 0 && level !== 1 && level !== 2) bad(`level ${String(level)}`);
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad('n must be a count');
  if (!Array.isArray(m) || !Array.isArray(t) || !Array.isArray(c) || !Array.isArray(r) || !Array.isArray(o))
    bad('m, t, c, r and o must be lists');
  // Meter rows back to [serial, usagePoint?], each against the row before it.
  const meterRows: [string, string | undefined][] = [];
  forEachMeterRow(m, bad, (_, serial, usagePoint) => meterRows.push([serial, usagePoint]));
  checkTypeRows(t, bad);
  checkContextRows(c, bad);
  // Every element takes at least one number of the runs or one other entry: a larger n is a
  // lie, refused before anything of its size is allocated.
  if (n > r.length + o.length) bad(`n = ${n} is more than the runs and others can hold`);
  const out: unknown[] = new Array(n);
  const taken = new Uint8Array(n);
  for (const entry of o) {
    if (!Array.isArray(entry) || entry.length !== 2) bad('an other element must be [index, value]');
    const i = checkIndex(entry[0], n, 'element');
    if (taken[i]) bad(`element ${i} appears twice`);
    taken[i] = 1;
    out[i] = unpackAt(entry[1], depth + 1);
  }
  let next = 0;
  const place = (value: unknown) => {
    while (next < n && taken[next]) next++;
    if (next >= n) bad(`more elements than n = ${n}`);
    out[next++] = value;
  };
  if (!r.every((v: unknown) => typeof v === 'number')) bad('runs must be numbers');
  const runs = r as number[];
  const absolute = p.a === 1;
  let prevM = 0;
  let prevT0 = 0;
  for (let pos = 0; pos < runs.length; ) {
    if (pos + runHeader > runs.length) bad('a run is cut short');
    const meter = checkIndex(prevM + runs[pos]!, meterRows.length, 'meter');
    const typeRow = t[checkIndex(runs[pos + 1], t.length, 'type')];
    const ctx = level === 0 ? undefined : c[checkIndex(runs[pos + 2], c.length, 'context')];
    const t0 = absolute ? runs[pos + 3]! : prevT0 + runs[pos + 3]!;
    const step = runs[pos + 4]!;
    const count = runs[pos + 5]!;
    if (!Number.isInteger(count) || count < 1 || pos + runHeader + count > runs.length)
      bad(`a run's count ${count} does not fit the runs`);
    const [serial, usagePoint] = meterRows[meter]!;
    const [kind, quantity, unit, interval, qualities] = typeRow as PackedList['t'][number];
    const [concentratorId, collectedAtMs, correlationId] = (ctx ?? []) as [string, number, string?];
    // A routed reading's id and streams are the router's (tlog/records.ts recordId, router.ts
    // classify), functions of its meter, kind, quantity and instant: a run shares all but the
    // instant, so they are derived once per run and the id's instant appended (issue 7: the
    // id's string, built per reading, was most of unpacking a routed list).
    let runStream: RoutedRecord['stream'] = 'normal';
    let runTyped: RoutedRecord['typed'] = null;
    let idPrefix: string | undefined;
    for (let k = 0; k < count; k++) {
      const value = runs[pos + runHeader + k];
      const timestampMs = k === 0 ? t0 : t0 + k * step;
      // Built as one literal: readings of one list then share a shape (cheaper to make and read).
      const reading: Record<string, unknown> =
        usagePoint === undefined
          ? { meterSerial: serial, kind, quantity, value, unit, timestampMs }
          : { meterSerial: serial, usagePoint, kind, quantity, value, unit, timestampMs };
      if (interval !== null) reading.intervalSeconds = interval;
      if (qualities !== null) reading.qualities = qualities;
      if (level === 0) {
        place(reading);
        continue;
      }
      const record = (
        correlationId === undefined
          ? { type: 'reading', reading, concentratorId, collectedAtMs }
          : { type: 'reading', reading, concentratorId, correlationId, collectedAtMs }
      ) as ReadingRecord;
      if (level === 1) place(record);
      else if (k === 0) {
        ({ stream: runStream, typed: runTyped } = classify(record));
        const id = recordId(record);
        idPrefix = idPrefixOf(id, timestampMs);
        place({ id, stream: runStream, typed: runTyped, record });
      } else {
        const id = idPrefix === undefined ? recordId(record) : idPrefix + timestampMs;
        place({ id, stream: runStream, typed: runTyped, record });
      }
    }
    prevM = meter;
    prevT0 = t0;
    pos += runHeader + count;
  }
  while (next < n && taken[next]) next++;
  if (next !== n) bad(`fewer elements than n = ${n}`);
  return out;
}

function unpackAt(x: unknown, depth: number): unknown {
  if (typeof x !== 'object' || x === null) return x;
  if (depth > maxDepth) throw new CompactRecordsError(`a value nested deeper than ${maxDepth} levels`);
  if (Array.isArray(x)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < x.length; i++) {
      const u = unpackAt(x[i], depth + 1);
      if (u !== x[i]) {
        out ??= x.slice();
        out[i] = u;
      }
    }
    return out ?? x;
  }
  const obj = x as Record<string, unknown>;
  if (listMark in obj) return unpackList(obj, depth);
  let source = obj;
  if (escapeMark in obj) {
    if (!isObject(obj[escapeMark]) || Object.keys(obj).length !== 1)
      bad('an escaped object must be {"~esc": {...}}');
    source = obj[escapeMark] as Record<string, unknown>;
  }
  let out: Record<string, unknown> | undefined;
  for (const k in source) {
    const u = unpackAt(source[k], depth + 1);
    if (u !== source[k]) {
      out ??= { ...source };
      out[k] = u;
    }
  }
  return out ?? (source === obj ? obj : { ...source });
}

/** The value `packValue` was given (JSON-equal). Throws MF_COMPACT_INVALID for a malformed one. */
export function unpackValue<T = unknown>(packed: unknown): T {
  return unpackAt(packed, 0) as T;
}
