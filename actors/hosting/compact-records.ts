import type { CollectedReading } from '../../adapters/field-data.js';
import { recordId } from '../tlog/records.js';
import { classify, type RoutedRecord } from '../tlog/router.js';
import {
  CompactRecordsError,
  escapeMark,
  isObject,
  isStringList,
  type Level,
  listMark,
  maxDepth,
  type PackedList,
  type ReadingRecord,
} from './compact-format.js';
import { ContextTable, MeterTable, sameTypeFields, TypeTable } from './compact-tables.js';

export { CompactRecordsError, type PackedList } from './compact-format.js';
export { unpackValue } from './compact-unpack.js';

/**
 * A compact, lossless JSON form of the head-end's calls and replies (issue 7). A reading
 * crosses four actors (device response, worker result, TLog bucket, integration stream) and
 * each persists it, three times over; as a JSON object it costs ~250 bytes, most of them the
 * same meter, usage point, kind, quantity and unit again. `packValue` walks any JSON value and
 * replaces each list of readings with a columnar form: the shared fields once per meter, per
 * reading type and per record context, then runs of readings of one meter and type at a
 * regular time step carrying only their values. `unpackValue` rebuilds the value exactly.
 *
 * Three shapes of list are packed, wherever they sit in a command or reply (so no machine's
 * types change and new commands are covered without a table of paths):
 * - level 0, `CollectedReading[]` (a field response's, a device's `completed` effect);
 * - level 1, `TLogRecord[]` of type `reading` (a worker's `tlog` effect, a TLog `route`);
 * - level 2, `RoutedRecord[]` of those (the TLog's effects, the stream's `append` and batches),
 *   whose id and streams are left out when they are what the router derives from the record.
 * Other elements of such a list (events, status words, work-order results, anything not of
 * exactly the expected shape) stay in place in the list, packed the same way recursively.
 * Unpacked readings of one list share their `quantity` and `qualities` objects (the machines
 * never change a reading). Values are JSON values: an `undefined` property is absent.
 *
 * Pure: no I/O. Packed input from the wire is checked; a malformed one throws
 * MF_COMPACT_INVALID and nothing is applied.
 */

/**
 * No own enumerable key outside the shape's own (an `undefined` value counts as absent). A
 * `switch` on the key per shape, not a Set lookup per key: asked of every element of every
 * list the packer walks, this check was the largest part of packing a routed list (issue 7).
 */
function onlyReadingKeys(x: Record<string, unknown>): boolean {
  for (const k in x) {
    switch (k) {
      case 'meterSerial':
      case 'usagePoint':
      case 'kind':
      case 'quantity':
      case 'value':
      case 'unit':
      case 'timestampMs':
      case 'intervalSeconds':
      case 'qualities':
        continue;
      default:
        if (x[k] !== undefined) return false;
    }
  }
  return true;
}

function onlyRecordKeys(x: Record<string, unknown>): boolean {
  for (const k in x) {
    switch (k) {
      case 'type':
      case 'reading':
      case 'concentratorId':
      case 'correlationId':
      case 'collectedAtMs':
        continue;
      default:
        if (x[k] !== undefined) return false;
    }
  }
  return true;
}

function onlyRoutedKeys(x: Record<string, unknown>): boolean {
  for (const k in x) {
    switch (k) {
      case 'id':
      case 'stream':
      case 'typed':
      case 'record':
        continue;
      default:
        if (x[k] !== undefined) return false;
    }
  }
  return true;
}

function isReading(x: unknown): x is CollectedReading {
  if (!isObject(x) || !onlyReadingKeys(x)) return false;
  return (
    typeof x.meterSerial === 'string' &&
    (x.usagePoint === undefined || typeof x.usagePoint === 'string') &&
    typeof x.kind === 'string' &&
    isObject(x.quantity) &&
    Number.isFinite(x.value) &&
    typeof x.unit === 'string' &&
    Number.isFinite(x.timestampMs) &&
    (x.intervalSeconds === undefined || Number.isFinite(x.intervalSeconds)) &&
    (x.qualities === undefined || isStringList(x.qualities))
  );
}

function isReadingRecord(x: unknown): x is ReadingRecord {
  if (!isObject(x) || !onlyRecordKeys(x)) return false;
  return (
    x.type === 'reading' &&
    typeof x.concentratorId === 'string' &&
    Number.isFinite(x.collectedAtMs) &&
    (x.correlationId === undefined || typeof x.correlationId === 'string') &&
    isReading(x.reading)
  );
}

/** A routed reading whose id and streams are the router's own: only the record is kept. */
function isDerivedRouted(x: unknown): x is RoutedRecord & { record: ReadingRecord } {
  if (!isObject(x) || !onlyRoutedKeys(x) || !isReadingRecord(x.record)) return false;
  const { stream, typed } = classify(x.record);
  return x.id === recordId(x.record) && x.stream === stream && x.typed === typed;
}

function levelOf(x: unknown): Level | undefined {
  if (!isObject(x)) return undefined;
  if ('meterSerial' in x) return isReading(x) ? 0 : undefined;
  if ('reading' in x) return isReadingRecord(x) ? 1 : undefined;
  if ('record' in x) return isDerivedRouted(x) ? 2 : undefined;
  return undefined;
}

function fitsLevel(x: unknown, level: Level): boolean {
  return level === 0 ? isReading(x) : level === 1 ? isReadingRecord(x) : isDerivedRouted(x);
}

/** Same own properties with the same primitive values, in the same order. */
function sameFlat(a: object, b: object): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i]) return false;
    const va = (a as Record<string, unknown>)[k];
    if (typeof va === 'object' && va !== null) return false;
    if (va !== (b as Record<string, unknown>)[k]) return false;
  }
  return true;
}

function sameType(a: CollectedReading, b: CollectedReading): boolean {
  return sameTypeFields(a, b) && sameFlat(a.quantity, b.quantity);
}

function readingOf(x: unknown, level: Level): CollectedReading {
  if (level === 0) return x as CollectedReading;
  if (level === 1) return (x as ReadingRecord).reading;
  return (x as RoutedRecord & { record: ReadingRecord }).record.reading;
}

function recordOf(x: unknown, level: Level): ReadingRecord {
  return level === 1 ? (x as ReadingRecord) : (x as { record: ReadingRecord }).record;
}

function packList(list: readonly unknown[], level: Level, depth: number): PackedList {
  const meters = new MeterTable();
  const types = new TypeTable();
  const contexts = new ContextTable();
  const runs: Run[] = [];
  const others: [number, unknown][] = [];
  let run: Run | undefined;
  let count = 0;
  let prev: CollectedReading | undefined;
  let prevRecord: ReadingRecord | undefined;
  let lastM = 0;
  let lastT = 0;
  let lastC = 0;
  for (let i = 0; i < list.length; i++) {
    const x = list[i];
    if (!fitsLevel(x, level)) {
      others.push([i, packAt(x, depth + 1)]);
      continue;
    }
    const r = readingOf(x, level);
    const up = r.usagePoint;
    // Consecutive readings mostly share meter, type and context: compared before any lookup.
    const sameMeter = prev !== undefined && prev.meterSerial === r.meterSerial && prev.usagePoint === up;
    const m = sameMeter ? lastM : meters.indexOf(r.meterSerial, up);
    const t = prev !== undefined && sameType(prev, r) ? lastT : types.indexOf(r);
    let c = 0;
    if (level > 0) {
      const rec = recordOf(x, level);
      const corr = rec.correlationId;
      c =
        prevRecord !== undefined &&
        prevRecord.concentratorId === rec.concentratorId &&
        prevRecord.collectedAtMs === rec.collectedAtMs &&
        prevRecord.correlationId === corr
          ? lastC
          : contexts.indexOf(rec.concentratorId, rec.collectedAtMs, corr);
      prevRecord = rec;
      lastC = c;
    }
    prev = r;
    lastM = m;
    lastT = t;
    const ts = r.timestampMs;
    count++;
    if (run && run.m === m && run.t === t && run.c === c) {
      const k = run.values.length;
      // The decoder computes t0 + k * step: the run goes on only if that is this instant exactly.
      if (k === 1 && run.t0 + (ts - run.t0) === ts) {
        run.step = ts - run.t0;
        run.values.push(r.value);
        continue;
      }
      if (k > 1 && run.t0 + k * run.step === ts) {
        run.values.push(r.value);
        continue;
      }
    }
    run = { m, t, c, t0: ts, step: 0, values: [r.value] };
    runs.push(run);
  }
  if (count + others.length !== list.length) throw new Error('compact-records: lost an element');
  const packed: PackedList = {
    [listMark]: level,
    n: list.length,
    m: prefixCoded(meters.rows),
    t: types.rows,
    c: contexts.rows,
    r: flatRuns(runs),
    o: others,
  };
  if (
    !runs.every(
      (x, i) => Number.isSafeInteger(x.t0) && (i === 0 || Number.isSafeInteger(x.t0 - runs[i - 1]!.t0)),
    )
  ) {
    packed.r = flatRuns(runs, true);
    packed.a = 1;
  }
  return packed;
}

type Run = { m: number; t: number; c: number; t0: number; step: number; values: number[] };

function flatRuns(runs: readonly Run[], absolute = false): number[] {
  const out: number[] = [];
  let prevM = 0;
  let prevT0 = 0;
  for (const { m, t, c, t0, step, values } of runs) {
    out.push(m - prevM, t, c, absolute ? t0 : t0 - prevT0, step, values.length);
    for (const v of values) out.push(v);
    prevM = m;
    prevT0 = t0;
  }
  return out;
}

function sharedPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function prefixCoded(rows: readonly ([string] | [string, string])[]): PackedList['m'] {
  let serial = '';
  let up = '';
  return rows.map(([s, u]) => {
    const p = sharedPrefix(serial, s);
    serial = s;
    if (u === undefined) return [p, s.slice(p)];
    const q = sharedPrefix(up, u);
    up = u;
    return [p, s.slice(p), q, u.slice(q)];
  });
}

function packAt(x: unknown, depth: number): unknown {
  if (typeof x !== 'object' || x === null) return x;
  if (depth > maxDepth) throw new CompactRecordsError(`a value nested deeper than ${maxDepth} levels`);
  if (Array.isArray(x)) {
    // The first element that is a reading at some level sets the list's level.
    let level: Level | undefined;
    let fitting = 0;
    for (const e of x) {
      if (level === undefined) {
        level = levelOf(e);
        if (level !== undefined) fitting++;
      } else if (fitsLevel(e, level)) fitting++;
      if (fitting >= 2) break;
    }
    if (level !== undefined && fitting >= 2) return packList(x, level, depth);
    let out: unknown[] | undefined;
    for (let i = 0; i < x.length; i++) {
      const p = packAt(x[i], depth + 1);
      if (p !== x[i]) {
        out ??= x.slice();
        out[i] = p;
      }
    }
    return out ?? x;
  }
  const obj = x as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k in obj) {
    const p = packAt(obj[k], depth + 1);
    if (p !== obj[k]) {
      out ??= { ...obj };
      out[k] = p;
    }
  }
  if (listMark in obj || escapeMark in obj) return { [escapeMark]: out ?? obj };
  return out ?? obj;
}

/** The compact form of any JSON value (the same value when nothing in it is packed). */
export function packValue<T>(value: T): unknown {
  return packAt(value, 0);
}
