import { ByteSink, utf8Bytes } from './byte-sink.js';
import { NO_USAGE_POINT, type ReadingColumns, type ReadingTypeEntry } from './columnar-readings.js';
import { headerXml } from './message.js';
import type { MessageHeader } from './model.js';
import { MESSAGE_NS, payloadNs } from './namespaces.js';
import { type ReadingTypeProfile, readingTypeFor } from './reading-type-map.js';
import { codeUnitScale, scaleToCodeUnit } from './reading-type-units.js';
import { elementXml, escapeXml, formatValue, isoUtc } from './xml-build.js';

/**
 * The MeterReadings encoder the head-end runs (main thread and pool alike): packed readings
 * (columnar-readings.ts) straight to the XML text, with no model objects in between.
 * It writes byte for byte what the model path writes (`meterReadingsFromCollected` +
 * `encodeMeterReadingsMessage` in meter-readings.ts, which stays the reference and serves
 * replies), and throws the same errors for the same first bad reading. Why a second path:
 * the model path built several objects and strings per reading (the model, the XML object
 * tree, key strings, a Date per timestamp); the garbage cost ~6x the string concatenation of
 * the same output, and its collection competes for the second core when two workers encode
 * (cluster/pool/README.md). Here each reading type, string and timestamp is resolved once
 * per message and the XML is written as UTF-8 straight into a reused buffer: per reading no
 * string and no object is made (an integer value is written digit by digit), so there is
 * next to nothing to collect, and no rope of strings to flatten and convert afterwards.
 */
export const METER_READINGS_NS = payloadNs('MeterReadings');
export const VALID_QUALITY = '1.0.0';

/** What a reading type contributes to every reading of it, resolved once per message. */
type ResolvedType = {
  interval: boolean;
  code: string;
  codeRef: string;
  scale: number;
  /** `</value>` to `</IntervalReadings>`: the qualities, at IntervalReadings' depth. */
  intervalTail: Uint8Array;
  /** `</value>` to `</Readings>`: the qualities and the ReadingType, at Readings' depth. */
  readingTail: Uint8Array;
};

type Block = { code: string; codeRef: string; readings: number[] };

type Group = {
  meterText: string;
  /** Escaped usage point name; undefined when the group's first reading had none (or ''). */
  usagePointText: string | undefined;
  blocks: Block[];
  lastBlock: Block | undefined;
  readings: number[];
};

/** A distinct timestamp's text and the two lines it opens (made when first needed). */
type Time = { text: string; intervalHead?: Uint8Array; readingHead?: Uint8Array };

/**
 * Times of earlier messages on this thread: a task's messages (and a day's batches) repeat the
 * same instants, and formatting one (`isoUtc`) and encoding its two lines per message showed
 * in the profile (isoUtc alone ~8%); cached, the encode takes 9-11% less CPU (bench data,
 * 0.20 -> 0.18 ms per 1000 readings, A/B interleaved). Bounded: emptied when full. A Time is immutable
 * once made (its lines depend on the instant alone), so sharing it between messages is safe.
 */
const timeCache = new Map<number, Time>();
const maxCachedTimes = 4096;

function timeAt(ms: number): Time {
  let time = timeCache.get(ms);
  if (time === undefined) {
    // isoUtc first: an instant out of Date's range throws here, as in the model path, and is not cached.
    time = { text: isoUtc(ms) };
    if (timeCache.size >= maxCachedTimes) timeCache.clear();
    timeCache.set(ms, time);
  }
  return time;
}

function qualitiesXml(qualities: readonly string[], indent: string): string {
  let out = '';
  for (const q of qualities)
    out +=
      q === undefined
        ? `${indent}<ReadingQualities>\n${indent}  <ReadingQualityType/>\n${indent}</ReadingQualities>\n`
        : `${indent}<ReadingQualities>\n${indent}  <ReadingQualityType ref="${escapeXml(String(q))}"/>\n${indent}</ReadingQualities>\n`;
  return out;
}

function resolveType(t: ReadingTypeEntry, profile: ReadingTypeProfile): ResolvedType {
  const options = t.intervalSeconds ? { intervalSeconds: t.intervalSeconds } : {};
  const code = readingTypeFor(t.quantity, t.kind, profile, options);
  const scale = codeUnitScale(t.unit, code);
  const qualities = t.qualities && t.qualities.length > 0 ? t.qualities : [VALID_QUALITY];
  const codeRef = escapeXml(String(code));
  return {
    interval: t.kind === 'interval',
    code,
    codeRef,
    scale,
    intervalTail: utf8Bytes(
      `</value>\n${qualitiesXml(qualities, '            ')}          </IntervalReadings>\n`,
    ),
    readingTail: utf8Bytes(
      `</value>\n${qualitiesXml(qualities, '          ')}          <ReadingType ref="${codeRef}"/>\n        </Readings>\n`,
    ),
  };
}

function inTimeOrder(block: Block, timestampMs: ArrayLike<number>): void {
  const r = block.readings;
  let sorted = true;
  for (let k = 1; k < r.length; k++)
    if (!(timestampMs[r[k - 1]!]! <= timestampMs[r[k]!]!)) {
      sorted = false;
      break;
    }
  // Array sort is stable: readings of equal time keep their arrival order, as in the model path.
  if (!sorted) r.sort((a, b) => timestampMs[a]! - timestampMs[b]!);
}

function nameRefXml(element: string, text: string): string {
  return `        <${element}>\n          <Names>\n            <name>${text}</name>\n          </Names>\n        </${element}>\n`;
}

/** Longest value text `formatValue` writes (5e-324 in plain decimals), with room to spare. */
const maxValueChars = 400;
const meterReadingOpen = utf8Bytes('      <MeterReading>\n');
const meterReadingClose = utf8Bytes('      </MeterReading>\n');
const blockOpen = utf8Bytes('        <IntervalBlocks>\n');

/** A message's readings after the checks: grouped, each value scaled, each time resolved. */
type Prepared = {
  groups: Group[];
  resolved: (ResolvedType | undefined)[];
  scaled: Float64Array;
  timeOf: Time[];
};

/**
 * In reading order, so the first bad reading throws what the model path throws for it:
 * unknown quantity or unit (resolveType), a value that is not finite in the code's unit
 * (formatValue), a time out of Date's range (isoUtc).
 */
function prepare(columns: ReadingColumns, profile: ReadingTypeProfile): Prepared {
  const { count, strings, types, meter, usagePoint, type, value, timestampMs } = columns;
  const resolved: (ResolvedType | undefined)[] = new Array(types.length);
  const groups: Group[] = [];
  const groupIndex = new Map<string, Group>();
  let lastMs = Number.NaN;
  let lastTime: Time | undefined;
  const scaled = new Float64Array(count);
  const timeOf: Time[] = new Array(count);
  let lastMeter = -1;
  let lastUsagePoint = -1;
  let group: Group | undefined;
  for (let i = 0; i < count; i++) {
    const m = meter[i]!;
    const u = usagePoint[i]!;
    if (m !== lastMeter || u !== lastUsagePoint || group === undefined) {
      const serial = strings[m]!;
      const point = u === NO_USAGE_POINT ? undefined : strings[u];
      const key = `${serial}\u0000${point ?? ''}`;
      group = groupIndex.get(key);
      if (!group) {
        group = {
          meterText: escapeXml(String(serial)),
          usagePointText: point ? escapeXml(String(point)) : undefined,
          blocks: [],
          lastBlock: undefined,
          readings: [],
        };
        groupIndex.set(key, group);
        groups.push(group);
      }
      lastMeter = m;
      lastUsagePoint = u;
    }
    const t = type[i]!;
    let rt = resolved[t];
    if (rt === undefined) {
      rt = resolveType(types[t]!, profile);
      resolved[t] = rt;
    }
    const x = scaleToCodeUnit(value[i]!, rt.scale);
    if (!Number.isFinite(x)) formatValue(x); // throws the model path's error
    scaled[i] = x;
    const ms = timestampMs[i]!;
    // Consecutive readings of a meter are mostly at different instants; the last one is still
    // worth a check (registers of one meter share theirs).
    if (ms !== lastMs || lastTime === undefined) {
      lastTime = timeAt(ms);
      lastMs = ms;
    }
    timeOf[i] = lastTime;
    if (!rt.interval) {
      group.readings.push(i);
      continue;
    }
    let block = group.lastBlock;
    if (block === undefined || block.code !== rt.code) {
      block = group.blocks.find((b) => b.code === rt.code);
      if (!block) {
        block = { code: rt.code, codeRef: rt.codeRef, readings: [] };
        group.blocks.push(block);
      }
      group.lastBlock = block;
    }
    block.readings.push(i);
  }
  return { groups, resolved, scaled, timeOf };
}

function intervalHead(time: Time): Uint8Array {
  if (time.intervalHead === undefined)
    time.intervalHead = utf8Bytes(
      `          <IntervalReadings>\n            <timeStamp>${time.text}</timeStamp>\n            <value>`,
    );
  return time.intervalHead;
}

function readingHead(time: Time): Uint8Array {
  if (time.readingHead === undefined)
    time.readingHead = utf8Bytes(
      `        <Readings>\n          <timeStamp>${time.text}</timeStamp>\n          <value>`,
    );
  return time.readingHead;
}

function putValue(sink: ByteSink, x: number): void {
  if (Number.isInteger(x) && x < 1e15 && x > -1e15) sink.putInteger(x);
  else sink.putAscii(formatValue(x));
}

function writeMessage(
  sink: ByteSink,
  columns: ReadingColumns,
  header: MessageHeader,
  profile: ReadingTypeProfile,
): void {
  const { groups, resolved, scaled, timeOf } = prepare(columns, profile);
  const { type, timestampMs } = columns;
  sink.putText(
    `<?xml version="1.0" encoding="utf-8"?>\n<EventMessage xmlns="${MESSAGE_NS}">\n${elementXml('Header', headerXml(header), '  ')}  <Payload>\n`,
  );
  if (groups.length === 0) {
    sink.putText(`    <MeterReadings xmlns="${METER_READINGS_NS}"/>\n  </Payload>\n</EventMessage>\n`);
    return;
  }
  sink.putText(`    <MeterReadings xmlns="${METER_READINGS_NS}">\n`);
  for (const g of groups) {
    sink.put(meterReadingOpen);
    for (const block of g.blocks) {
      inTimeOrder(block, timestampMs);
      sink.put(blockOpen);
      for (const i of block.readings) {
        const time = timeOf[i]!;
        const head = intervalHead(time);
        const tail = resolved[type[i]!]!.intervalTail;
        sink.ensure(head.length + maxValueChars + tail.length);
        sink.put(head);
        putValue(sink, scaled[i]!);
        sink.put(tail);
      }
      sink.putText(`          <ReadingType ref="${block.codeRef}"/>\n        </IntervalBlocks>\n`);
    }
    sink.putText(nameRefXml('Meter', g.meterText));
    for (const i of g.readings) {
      const time = timeOf[i]!;
      const head = readingHead(time);
      const tail = resolved[type[i]!]!.readingTail;
      sink.ensure(head.length + maxValueChars + tail.length);
      sink.put(head);
      putValue(sink, scaled[i]!);
      sink.put(tail);
    }
    if (g.usagePointText !== undefined) sink.putText(nameRefXml('UsagePoint', g.usagePointText));
    sink.put(meterReadingClose);
  }
  sink.putText('    </MeterReadings>\n  </Payload>\n</EventMessage>\n');
}

/**
 * One EventMessage (declaration included) carrying the packed readings as MeterReadings, in
 * UTF-8, in an ArrayBuffer of its own (movable to another thread): one MeterReading per
 * meter and usage point in order of first appearance, load-profile values in IntervalBlocks
 * per ReadingType (in time order), the rest as Readings. `columns` must have passed
 * `checkReadingColumns` (or come from `packReadings`).
 */
export function encodeMeterReadingsColumnsBytes(
  columns: ReadingColumns,
  header: MessageHeader,
  profile: ReadingTypeProfile = 'standard',
): Uint8Array {
  const sink = new ByteSink();
  try {
    writeMessage(sink, columns, header, profile);
    return sink.take();
  } catch (err) {
    sink.take();
    throw err;
  }
}

/**
 * The same message written into `target` from its start (a pool task's region of a shared
 * output arena): the number of bytes written when it fits, else the message's bytes in an
 * ArrayBuffer of their own (what is in `target` then is not the message).
 */
export function encodeMeterReadingsColumnsInto(
  columns: ReadingColumns,
  header: MessageHeader,
  profile: ReadingTypeProfile,
  target: Uint8Array,
): number | Uint8Array {
  const sink = new ByteSink(target);
  try {
    writeMessage(sink, columns, header, profile);
    return sink.inTarget ? sink.pos : sink.buf.slice(0, sink.pos);
  } finally {
    sink.release();
  }
}

/** The same message as text. */
export function encodeMeterReadingsColumns(
  columns: ReadingColumns,
  header: MessageHeader,
  profile: ReadingTypeProfile = 'standard',
): string {
  const sink = new ByteSink();
  try {
    writeMessage(sink, columns, header, profile);
    return sink.takeText();
  } catch (err) {
    sink.take();
    throw err;
  }
}
