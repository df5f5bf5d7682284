import type { CollectedReading } from '../../adapters/field-data.js';
import { MeterfabricError } from '../../core/errors.js';
import type { TLogRecord } from '../tlog/records.js';
import { recordId } from '../tlog/records.js';
import { classify, type RoutedRecord } from '../tlog/router.js';

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

/** Marks a packed list. */
const listMark = '~rl';
/** Marks an input object that happened to have a marker key: its keys are taken literally. */
const escapeMark = '~esc';

type Level = 0 | 1 | 2;

/**
 * A packed list: tables, then runs of readings of one meter, type and context whose instants
 * are t0 + k * step, then the list's other elements with their indexes.
 */
export type PackedList = {
  [listMark]: Level;
  /** Length of the whole list. */
  n: number;
  /**
   * Meters, each as [p, serial suffix] or [p, serial suffix, q, usage point suffix]: p (q) is
   * the length of the prefix shared with the previous row's serial (usage point), since a
   * concentrator's serials mostly differ in their last digits.
   */
  m: ([number, string] | [number, string, number, string])[];
  /** [kind, quantity, unit, intervalSeconds | null, qualities | null]. */
  t: [string, unknown, string, number | null, string[] | null][];
  /** Record context, levels 1 and 2: [concentratorId, collectedAtMs] or with correlationId. */
  c: ([string, number] | [string, number, string])[];
  /**
   * The runs, flat: per run `meter - previous run's meter, type, context, t0, stepMs, count`,
   * then `count` values. t0 is the difference to the previous run's t0 (the first: to 0),
   * unless `a` is set: then every t0 is absolute (instants that are not safe integers).
   */
  r: number[];
  a?: 1;
  /** [index, packed element] of the elements that are not readings of this level. */
  o: [number, unknown][];
};

export class CompactRecordsError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_COMPACT_INVALID', message, details);
    this.name = 'CompactRecordsError';
  }
}

/** A run's header: meter, type, context, t0, step, count. */
const runHeader = 6;
const maxDepth = 200;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function onlyKeys(x: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const k in x) if (!allowed.has(k) && x[k] !== undefined) return false;
  return true;
}

const readingKeys = new Set([
  'meterSerial',
  'usagePoint',
  'kind',
  'quantity',
  'value',
  'unit',
  'timestampMs',
  'intervalSeconds',
  'qualities',
]);
const recordKeys = new Set(['type', 'reading', 'concentratorId', 'correlationId', 'collectedAtMs']);
const routedKeys = new Set(['id', 'stream', 'typed', 'record']);

function isStringList(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

function isReading(x: unknown): x is CollectedReading {
  if (!isObject(x) || !onlyKeys(x, readingKeys)) return false;
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

type ReadingRecord = Extract<TLogRecord, { type: 'reading' }>;

function isReadingRecord(x: unknown): x is ReadingRecord {
  if (!isObject(x) || !onlyKeys(x, recordKeys)) return false;
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
  if (!isObject(x) || !onlyKeys(x, routedKeys) || !isReadingRecord(x.record)) return false;
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

/** Index tables keyed by an exact string key, remembering the last key for repeated rows. */
class Table<T> {
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

function sameStrings(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameType(a: CollectedReading, b: CollectedReading): boolean {
  return (
    a.kind === b.kind &&
    a.unit === b.unit &&
    a.intervalSeconds === b.intervalSeconds &&
    sameFlat(a.quantity, b.quantity) &&
    sameStrings(a.qualities, b.qualities)
  );
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
  const meters = new Table<[string] | [string, string]>();
  const types = new Table<PackedList['t'][number]>();
  const contexts = new Table<PackedList['c'][number]>();
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
    // Consecutive readings mostly share meter, type and context: compared before any key is built.
    const sameMeter = prev !== undefined && prev.meterSerial === r.meterSerial && prev.usagePoint === up;
    const m = sameMeter
      ? lastM
      : meters.indexOf(
          up === undefined ? `s${r.meterSerial}` : `u${JSON.stringify([r.meterSerial, up])}`,
          () => (up === undefined ? [r.meterSerial] : [r.meterSerial, up]),
        );
    const interval = r.intervalSeconds ?? null;
    const qualities = r.qualities ?? null;
    const t =
      prev !== undefined && sameType(prev, r)
        ? lastT
        : types.indexOf(JSON.stringify([r.kind, r.quantity, r.unit, interval, qualities]), () => [
            r.kind,
            r.quantity,
            r.unit,
            interval,
            qualities,
          ]);
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
          : contexts.indexOf(JSON.stringify([rec.concentratorId, rec.collectedAtMs, corr ?? null]), () =>
              corr === undefined
                ? [rec.concentratorId, rec.collectedAtMs]
                : [rec.concentratorId, rec.collectedAtMs, corr],
            );
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

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new CompactRecordsError(`malformed compact record list: ${message}`, details);
}

function checkIndex(i: unknown, size: number, what: string): number {
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= size)
    bad(`${what} index ${String(i)} is outside its table of ${size}`);
  return i;
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
  let serial = '';
  let up = '';
  for (const row of m) {
    const ok =
      Array.isArray(row) &&
      (row.length === 2 || row.length === 4) &&
      Number.isInteger(row[0]) &&
      row[0] >= 0 &&
      row[0] <= serial.length &&
      typeof row[1] === 'string' &&
      (row.length === 2 ||
        (Number.isInteger(row[2]) && row[2] >= 0 && row[2] <= up.length && typeof row[3] === 'string'));
    if (!ok) bad('a meter row must be [prefix, serial suffix] or with [prefix, usage point suffix]');
    serial = serial.slice(0, row[0]) + row[1];
    if (row.length === 4) up = up.slice(0, row[2]) + row[3];
    meterRows.push([serial, row.length === 4 ? up : undefined]);
  }
  for (const row of t)
    if (
      !Array.isArray(row) ||
      row.length !== 5 ||
      typeof row[0] !== 'string' ||
      !isObject(row[1]) ||
      typeof row[2] !== 'string' ||
      (row[3] !== null && typeof row[3] !== 'number') ||
      (row[4] !== null && !isStringList(row[4]))
    )
      bad('a type row must be [kind, quantity, unit, intervalSeconds|null, qualities|null]');
  for (const row of c)
    if (
      !Array.isArray(row) ||
      (row.length !== 2 && row.length !== 3) ||
      typeof row[0] !== 'string' ||
      typeof row[1] !== 'number' ||
      (row.length === 3 && typeof row[2] !== 'string')
    )
      bad('a context row must be [concentratorId, collectedAtMs] or with a correlationId');
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
      else {
        const { stream, typed } = classify(record);
        place({ id: recordId(record), stream, typed, record });
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
