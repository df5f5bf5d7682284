import {
  checkContextRows,
  checkTypeRows,
  escapeMark,
  forEachMeterRow,
  isObject,
  listMark,
  runHeader,
} from '../../core/packed-list-tables.js';
import {
  ColumnarBatchError,
  maxReadingsPerBatch,
  NO_USAGE_POINT,
  type ReadingColumns,
  type ReadingTypeEntry,
} from './columnar-readings.js';
import { type MeterReadingsOptions, outboundHeader } from './meter-readings.js';
import { encodeMeterReadingsColumnsBytes } from './meter-readings-xml.js';

/**
 * Readings in the cluster's packed stream-record form (actors/hosting/compact-format.ts,
 * `PackedList`: per list a meter table, a type table, a context table and runs of one meter,
 * type and context at t0 + k * step) straight into the encoder's columns, with no reading
 * object in between. The stream stores readings packed; a caller that unpacked them into
 * objects only to pack them into columns again (columnar-readings.ts) did the work twice, on
 * the thread the pool's workers compete with. Here a pool task (pool-tasks.ts
 * `encodeMeterReadingsPackedInto`) or the main thread (`columnsFromPacked`) reads the runs
 * directly.
 *
 * The marker keys and the table checks come from core/packed-list-tables.ts, shared with the
 * cluster's unpacker (an adapter does not depend on actors/).
 * test/cim/packed-readings.test.ts packs with the real packer (`packValue`) and checks that
 * every reading shape gives the bytes `encodeMeterReadingsBytes` gives for the unpacked list.
 *
 * Only the readings are taken: a list of records (level 1) or routed records (level 2)
 * contributes its reading records, in list order, as `buildOutputBatch` would. A list whose
 * other elements hold a reading record the packer could not put in a run (an odd shape), or a
 * level-0 list with any such element, is refused whole: those readings would be left out.
 */
export type PackedReadings = {
  '~rl': 0 | 1 | 2;
  n: number;
  m: ([number, string] | [number, string, number, string])[];
  t: [string, unknown, string, number | null, string[] | null][];
  c: ([string, number] | [string, number, string])[];
  /** As stored: a plain array; a Float64Array after `movableRuns` (the same numbers, movable). */
  r: number[] | Float64Array;
  a?: 1;
  o: [number, unknown][];
};

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new ColumnarBatchError(`a packed reading list is malformed: ${message}`, details);
}

function isIndex(i: unknown, size: number): i is number {
  return typeof i === 'number' && Number.isInteger(i) && i >= 0 && i < size;
}

/** An element left out of the runs that is a reading record after all (possibly escaped). */
function holdsReadingRecord(x: unknown, level: 0 | 1 | 2): boolean {
  let obj = x;
  if (isObject(obj) && escapeMark in obj) obj = obj[escapeMark];
  if (!isObject(obj)) return false;
  if (level === 1) return obj.type === 'reading';
  let record = obj.record;
  if (isObject(record) && escapeMark in record) record = record[escapeMark];
  return isObject(record) && record.type === 'reading';
}

function checkTables(p: PackedReadings): void {
  if (!isObject(p)) bad('it must be an object');
  const { n, m, t, c, r, o } = p;
  const level = p[listMark];
  if (level !== 0 && level !== 1 && level !== 2) bad(`level ${String(level)}`);
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad('n must be a count');
  if (
    !Array.isArray(m) ||
    !Array.isArray(t) ||
    !Array.isArray(c) ||
    !(Array.isArray(r) || r instanceof Float64Array) ||
    !Array.isArray(o)
  )
    bad('m, t, c, r and o must be lists');
  if (n > maxReadingsPerBatch + o.length)
    bad(`a packed list encodes at most ${maxReadingsPerBatch} readings in one message, n = ${n}`, { n });
  checkTypeRows(t, bad);
  checkContextRows(c, bad);
  const taken = new Set<number>();
  for (const entry of o) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isIndex(entry[0], n))
      bad('an other element must be [index below n, value]');
    if (taken.has(entry[0])) bad(`element ${entry[0]} appears twice`);
    taken.add(entry[0]);
    if (level === 0 || holdsReadingRecord(entry[1], level))
      bad(`element ${entry[0]} is a reading outside the packed runs: encode the unpacked list instead`, {
        index: entry[0],
      });
  }
}

/**
 * Serials and usage points per meter row, each prefix-coded against the row before it
 * (compact-format.ts): the strings table and, per row, the indexes into it.
 */
function meterRows(m: PackedReadings['m']): {
  strings: string[];
  serialOf: Uint32Array;
  pointOf: Uint32Array;
} {
  const strings: string[] = [];
  const serialOf = new Uint32Array(m.length);
  const pointOf = new Uint32Array(m.length);
  forEachMeterRow(m, bad, (i, serial, usagePoint) => {
    serialOf[i] = strings.length;
    strings.push(serial);
    if (usagePoint === undefined) pointOf[i] = NO_USAGE_POINT;
    else {
      pointOf[i] = strings.length;
      strings.push(usagePoint);
    }
  });
  return { strings, serialOf, pointOf };
}

/**
 * The readings of a packed list as the encoder's columns, in list order; the same readings,
 * field for field, that unpacking the list and `packReadings` would give (the instants by the
 * unpacker's own arithmetic). Checks everything it reads; a malformed or forged list throws
 * MF_POOL_BATCH_INVALID before anything is encoded.
 */
export function columnsFromPacked(p: PackedReadings): ReadingColumns {
  checkTables(p);
  const { n, t, c, r, o } = p;
  const level = p[listMark];
  const { strings, serialOf, pointOf } = meterRows(p.m);
  const types: ReadingTypeEntry[] = t.map(([kind, quantity, unit, intervalSeconds, qualities]) => {
    const entry = { kind, quantity, unit } as ReadingTypeEntry;
    if (intervalSeconds !== null) entry.intervalSeconds = intervalSeconds;
    if (qualities !== null) entry.qualities = qualities;
    return entry;
  });
  // Every element is one reading of the runs or one other element: the count is known up front.
  const count = n - o.length;
  if (count > maxReadingsPerBatch)
    bad(`a packed list encodes at most ${maxReadingsPerBatch} readings in one message, got ${count}`);
  const meter = new Uint32Array(count);
  const usagePoint = new Uint32Array(count);
  const type = new Uint32Array(count);
  const value = new Float64Array(count);
  const timestampMs = new Float64Array(count);
  const absolute = p.a === 1;
  let prevM = 0;
  let prevT0 = 0;
  let i = 0;
  for (let pos = 0; pos < r.length; ) {
    if (pos + runHeader > r.length) bad('a run is cut short');
    const m = prevM + r[pos]!;
    const ty = r[pos + 1];
    if (!isIndex(m, p.m.length)) bad(`meter index ${m} is outside its table of ${p.m.length}`);
    if (!isIndex(ty, t.length)) bad(`type index ${String(ty)} is outside its table of ${t.length}`);
    if (level !== 0 && !isIndex(r[pos + 2], c.length))
      bad(`context index ${String(r[pos + 2])} is outside its table of ${c.length}`);
    const t0 = absolute ? r[pos + 3]! : prevT0 + r[pos + 3]!;
    const step = r[pos + 4]!;
    const runCount = r[pos + 5]!;
    if (typeof t0 !== 'number' || typeof step !== 'number')
      bad('a run needs a numeric t0 and step', { index: i });
    if (!Number.isInteger(runCount) || runCount < 1 || pos + runHeader + runCount > r.length)
      bad(`a run's count ${runCount} does not fit the runs`);
    if (i + runCount > count) bad(`more readings than n = ${n} leaves room for`, { n });
    const serial = serialOf[m]!;
    const point = pointOf[m]!;
    const first = pos + runHeader;
    for (let k = 0; k < runCount; k++) {
      const v = r[first + k];
      if (typeof v !== 'number') bad('a run value is not a number', { index: i });
      meter[i] = serial;
      usagePoint[i] = point;
      type[i] = ty;
      value[i] = v;
      // As the unpacker computes it, so every instant is bit for bit the unpacked one.
      timestampMs[i] = k === 0 ? t0 : t0 + k * step;
      i++;
    }
    prevM = m;
    prevT0 = t0;
    pos = first + runCount;
  }
  if (i !== count) bad(`fewer elements than n = ${n}`, { n });
  return { count, strings, types, meter, usagePoint, type, value, timestampMs };
}

/**
 * The list with its runs in a Float64Array (the same numbers), whose buffer a pool task can
 * move: structured-cloning a plain array of numbers costs the caller's thread per element. A
 * list whose runs hold anything but numbers is returned as it is (the task refuses it whole).
 */
export function movableRuns(p: PackedReadings): { packed: PackedReadings; buffer?: ArrayBuffer } {
  const r = p?.r;
  if (!Array.isArray(r)) return { packed: p };
  const runs = new Float64Array(r.length);
  for (let i = 0; i < r.length; i++) {
    const x = r[i];
    if (typeof x !== 'number') return { packed: p };
    runs[i] = x;
  }
  return { packed: { ...p, r: runs }, buffer: runs.buffer };
}

/** How many readings a packed list holds (for sizing tasks; not a check). */
export function packedReadingCount(p: PackedReadings): number {
  return Math.max(0, (p?.n ?? 0) - (Array.isArray(p?.o) ? p.o.length : 0));
}

/**
 * One MeterReadings message (UTF-8, a buffer of its own) of a packed list's readings, on this
 * thread: the same bytes `encodeMeterReadingsBytes` gives for the unpacked readings.
 */
export function encodeMeterReadingsPackedBytes(
  packed: PackedReadings,
  options: MeterReadingsOptions = {},
): Uint8Array {
  return encodeMeterReadingsColumnsBytes(
    columnsFromPacked(packed),
    outboundHeader('MeterReadings', options),
    options.profile,
  );
}
