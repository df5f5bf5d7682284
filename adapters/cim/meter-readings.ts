import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../../core/clock.js';
import type { CollectedReading } from '../field-data.js';
import { ColumnarBatchError, packReadings, type ReadingColumns } from './columnar-readings.js';
import { CimInvalidError, headerXml, problem, readEnvelope } from './message.js';
import {
  encodeMeterReadingsColumns,
  encodeMeterReadingsColumnsBytes,
  METER_READINGS_NS,
  VALID_QUALITY,
} from './meter-readings-xml.js';
import type {
  CimIntervalBlock,
  CimMeterReading,
  CimReading,
  MessageHeader,
  MessageProperty,
  ReplyError,
} from './model.js';
import { MESSAGE_NS } from './namespaces.js';
import { objectRefXml, readObjectRef } from './object-ref.js';
import {
  quantityForReadingType,
  type ReadingTypeProfile,
  readingTypeFor,
  repairSeedReadingType,
  unitOfCode,
  valueInCodeUnit,
} from './reading-type-map.js';
import { buildDocument, formatValue, isoUtc, type XmlObject } from './xml-build.js';
import {
  child,
  children,
  childText,
  defaultXmlLimits,
  parseXml,
  type XmlElement,
  type XmlLimits,
} from './xml-tree.js';

/**
 * MeterReadings payloads: registers and daily closures as Readings, load profiles as
 * IntervalBlocks, each value with its ReadingQualities. Encoding always follows the XSD
 * (payload root in the MeterReadings# namespace; Meter, Readings, UsagePoint in sequence
 * order); reading accepts the seed's layout too (payload root in the message namespace,
 * UsagePoint before Readings), because element order is not used to find anything.
 */
export { METER_READINGS_NS, VALID_QUALITY };

function qualitiesXml(qualities: string[]): XmlObject[] {
  return qualities.map((q) => ({ ReadingQualityType: { '@_ref': q } }));
}

function readingXml(r: CimReading): XmlObject {
  return {
    reason: r.reason,
    reportedDateTime: r.reportedDateTime,
    source: r.source,
    timeStamp: r.timeStamp,
    value: r.value,
    ReadingQualities: qualitiesXml(r.qualities),
    ReadingType: { '@_ref': r.readingType },
  };
}

function intervalBlockXml(b: CimIntervalBlock): XmlObject {
  return {
    IntervalReadings: b.intervalReadings.map((ir) => ({
      timeStamp: ir.timeStamp,
      value: ir.value,
      ReadingQualities: qualitiesXml(ir.qualities),
    })),
    ReadingType: { '@_ref': b.readingType },
  };
}

/** One MeterReading in XSD order: IntervalBlocks*, Meter?, Readings*, UsagePoint?, valuesInterval?. */
export function meterReadingXml(m: CimMeterReading): XmlObject {
  return {
    IntervalBlocks: m.intervalBlocks.map(intervalBlockXml),
    Meter: objectRefXml(m.meter),
    Readings: m.readings.map(readingXml),
    UsagePoint: objectRefXml(m.usagePoint),
    valuesInterval: m.valuesInterval
      ? { end: m.valuesInterval.end, start: m.valuesInterval.start }
      : undefined,
  };
}

export function meterReadingsContent(list: CimMeterReading[]): XmlObject {
  return { MeterReading: list.map(meterReadingXml) };
}

export function encodeMeterReadingsMessage(header: MessageHeader, list: CimMeterReading[]): string {
  return buildDocument('EventMessage', {
    '@_xmlns': MESSAGE_NS,
    Header: headerXml(header),
    Payload: { MeterReadings: { '@_xmlns': METER_READINGS_NS, ...meterReadingsContent(list) } },
  });
}

export type MessageOptions = {
  source?: string;
  messageId?: string;
  correlationId?: string;
  properties?: MessageProperty[];
  verb?: 'created' | 'changed';
  clock?: Clock;
};

export type MeterReadingsOptions = MessageOptions & { profile?: ReadingTypeProfile };

export function outboundHeader(noun: string, options: MessageOptions): MessageHeader {
  const header: MessageHeader = {
    verb: options.verb ?? 'created',
    noun,
    revision: '2.0',
    timestamp: isoUtc((options.clock ?? systemClock).now()),
    messageId: options.messageId ?? randomUUID(),
    properties: options.properties ?? [],
  };
  if (options.source) header.source = options.source;
  if (options.correlationId) header.correlationId = options.correlationId;
  return header;
}

/**
 * Collected readings -> MeterReading elements, one per meter (and usage point). The value is
 * converted into the unit of its ReadingType code (kWh register under a Wh code: x1000).
 */
export function meterReadingsFromCollected(
  readings: readonly CollectedReading[],
  profile: ReadingTypeProfile = 'standard',
): CimMeterReading[] {
  const byMeter = new Map<string, CimMeterReading>();
  const blocks = new Map<string, CimIntervalBlock>();
  const blockTimes = new Map<CimIntervalBlock, number[]>();
  for (const r of readings) {
    const key = `${r.meterSerial}\u0000${r.usagePoint ?? ''}`;
    let mr = byMeter.get(key);
    if (!mr) {
      mr = { meter: { names: [r.meterSerial] }, readings: [], intervalBlocks: [] };
      if (r.usagePoint) mr.usagePoint = { names: [r.usagePoint] };
      byMeter.set(key, mr);
    }
    const options = r.intervalSeconds ? { intervalSeconds: r.intervalSeconds } : {};
    const code = readingTypeFor(r.quantity, r.kind, profile, options);
    const value = formatValue(valueInCodeUnit(r.value, r.unit, code));
    const qualities = r.qualities && r.qualities.length > 0 ? [...r.qualities] : [VALID_QUALITY];
    const timeStamp = isoUtc(r.timestampMs);
    if (r.kind === 'interval') {
      const blockKey = `${key}\u0000${code}`;
      let block = blocks.get(blockKey);
      if (!block) {
        block = { readingType: code, intervalReadings: [] };
        blocks.set(blockKey, block);
        blockTimes.set(block, []);
        mr.intervalBlocks.push(block);
      }
      block.intervalReadings.push({ timeStamp, value, qualities });
      blockTimes.get(block)!.push(r.timestampMs);
    } else mr.readings.push({ readingType: code, timeStamp, value, qualities });
  }
  // Interval readings in time order; most arrive in order, so check before sorting.
  for (const block of blocks.values()) {
    const times = blockTimes.get(block)!;
    if (times.every((t, i) => i === 0 || times[i - 1]! <= t)) continue;
    const order = times.map((_, i) => i).sort((a, b) => times[a]! - times[b]!);
    block.intervalReadings = order.map((i) => block.intervalReadings[i]!);
  }
  return [...byMeter.values()];
}

/**
 * The head-end's entry point: collected readings -> one schema-valid EventMessage. The
 * readings are packed into columns and encoded by `encodeMeterReadingsColumns`, the same
 * encoder the pool runs; readings the columns cannot carry (a value or time that is not a
 * number, more than a batch holds) take the model path, which writes the same XML.
 */
export function encodeMeterReadings(
  readings: readonly CollectedReading[],
  options: MeterReadingsOptions = {},
): string {
  let columns: ReadingColumns;
  try {
    columns = packReadings(readings);
  } catch (err) {
    if (!(err instanceof ColumnarBatchError)) throw err;
    return encodeMeterReadingsByModel(readings, options);
  }
  return encodeMeterReadingsColumns(columns, outboundHeader('MeterReadings', options), options.profile);
}

/**
 * The same message as UTF-8 bytes, written directly (no string in between): for a file or a
 * socket. `new TextDecoder().decode(bytes)` is exactly `encodeMeterReadings(readings, options)`.
 */
export function encodeMeterReadingsBytes(
  readings: readonly CollectedReading[],
  options: MeterReadingsOptions = {},
): Uint8Array {
  let columns: ReadingColumns;
  try {
    columns = packReadings(readings);
  } catch (err) {
    if (!(err instanceof ColumnarBatchError)) throw err;
    return utf8.encode(encodeMeterReadingsByModel(readings, options));
  }
  return encodeMeterReadingsColumnsBytes(columns, outboundHeader('MeterReadings', options), options.profile);
}

const utf8 = new TextEncoder();

/** The reference encoder: readings -> model -> XML object tree -> text (slower; any input). */
export function encodeMeterReadingsByModel(
  readings: readonly CollectedReading[],
  options: MeterReadingsOptions = {},
): string {
  return encodeMeterReadingsMessage(
    outboundHeader('MeterReadings', options),
    meterReadingsFromCollected(readings, options.profile ?? 'standard'),
  );
}

function readQualities(el: XmlElement): string[] {
  return children(el, 'ReadingQualities').map((q) => child(q, 'ReadingQualityType')?.attrs.ref ?? '');
}

function optionalText<T extends object>(target: T, el: XmlElement, names: (keyof T & string)[]): void {
  for (const name of names) {
    const v = childText(el, name);
    if (v !== undefined) (target as Record<string, unknown>)[name] = v;
  }
}

function readReadingType(el: XmlElement, path: string, problems: ReplyError[]): string {
  const ref = child(el, 'ReadingType')?.attrs.ref;
  if (!ref) {
    problems.push(problem('MF_CIM_MISSING', 'ReadingType ref is missing', `${path}/ReadingType`));
    return '';
  }
  return repairSeedReadingType(ref);
}

/** Reads a MeterReadings payload element (either namespace) into the model. */
export function readMeterReadingsPayload(
  el: XmlElement,
  path: string,
  problems: ReplyError[],
): CimMeterReading[] {
  return children(el, 'MeterReading').map((mrEl, i) => {
    const mrPath = `${path}/MeterReading[${i + 1}]`;
    const mr: CimMeterReading = { readings: [], intervalBlocks: [] };
    const meter = child(mrEl, 'Meter');
    if (meter) mr.meter = readObjectRef(meter);
    const up = child(mrEl, 'UsagePoint');
    if (up) mr.usagePoint = readObjectRef(up);
    mr.readings = children(mrEl, 'Readings').map((rEl, j) => {
      const r: CimReading = {
        readingType: readReadingType(rEl, `${mrPath}/Readings[${j + 1}]`, problems),
        qualities: readQualities(rEl),
      };
      optionalText(r, rEl, ['reason', 'reportedDateTime', 'source', 'timeStamp', 'value']);
      return r;
    });
    mr.intervalBlocks = children(mrEl, 'IntervalBlocks').map((bEl, j) => ({
      readingType: readReadingType(bEl, `${mrPath}/IntervalBlocks[${j + 1}]`, problems),
      intervalReadings: children(bEl, 'IntervalReadings').map((irEl) => {
        const ir = { qualities: readQualities(irEl) };
        optionalText(ir, irEl, ['timeStamp', 'value'] as never[]);
        return ir as CimIntervalBlock['intervalReadings'][number];
      }),
    }));
    const vi = child(mrEl, 'valuesInterval');
    if (vi) {
      mr.valuesInterval = {};
      optionalText(mr.valuesInterval, vi, ['start', 'end']);
    }
    return mr;
  });
}

export type ParsedMeterReadings = { header: MessageHeader; meterReadings: CimMeterReading[] };

/** Parses an EventMessage/ResponseMessage carrying MeterReadings (ours, the seed's, Connexo's). */
export function parseMeterReadingsMessage(
  xml: string,
  limits: XmlLimits = defaultXmlLimits,
): ParsedMeterReadings {
  const env = readEnvelope(parseXml(xml, limits));
  const problems: ReplyError[] = [];
  const payloadEl = env.payload ? child(env.payload, 'MeterReadings') : undefined;
  if (!payloadEl || !env.payloadPath) {
    throw new CimInvalidError([
      problem('MF_CIM_MISSING', 'no MeterReadings in Payload', `${env.path}/Payload/MeterReadings`),
    ]);
  }
  if (payloadEl.ns !== METER_READINGS_NS && payloadEl.ns !== MESSAGE_NS)
    problems.push(
      problem(
        'MF_CIM_NAMESPACE',
        `MeterReadings is in namespace "${payloadEl.ns}", expected ${METER_READINGS_NS}`,
        `${env.payloadPath}/MeterReadings`,
      ),
    );
  const meterReadings = readMeterReadingsPayload(payloadEl, `${env.payloadPath}/MeterReadings`, problems);
  if (problems.length > 0) throw new CimInvalidError(problems);
  return { header: env.header, meterReadings };
}

/** xs:dateTime -> ms; a value without zone (as in the seed) is taken as UTC. */
export function dateTimeMs(value: string): number {
  const hasZone = /(Z|[+-]\d\d:\d\d)$/.test(value);
  return Date.parse(hasZone ? value : `${value}Z`);
}

/**
 * The model back to neutral readings, for consumers of inbound MeterReadings and for round-trip
 * tests. Codes the mapping table does not know are reported, not guessed.
 */
export function collectedFromMeterReadings(list: readonly CimMeterReading[]): {
  readings: CollectedReading[];
  unknownCodes: string[];
} {
  const readings: CollectedReading[] = [];
  const unknown = new Set<string>();
  const push = (
    mr: CimMeterReading,
    code: string,
    timeStamp: string | undefined,
    value: string | undefined,
    qualities: string[],
  ) => {
    const match = quantityForReadingType(code);
    if (!match || timeStamp === undefined || value === undefined) {
      unknown.add(code);
      return;
    }
    const reading: CollectedReading = {
      meterSerial: mr.meter?.names[0] ?? mr.meter?.mRID ?? '',
      kind: match.kind,
      quantity: match.quantity,
      value: Number(value),
      unit: unitOfCode(code),
      timestampMs: dateTimeMs(timeStamp),
      qualities,
    };
    if (mr.usagePoint) reading.usagePoint = mr.usagePoint.names[0] ?? mr.usagePoint.mRID ?? '';
    if (match.intervalSeconds) reading.intervalSeconds = match.intervalSeconds;
    readings.push(reading);
  };
  for (const mr of list) {
    for (const r of mr.readings) push(mr, r.readingType, r.timeStamp, r.value, r.qualities);
    for (const b of mr.intervalBlocks)
      for (const ir of b.intervalReadings) push(mr, b.readingType, ir.timeStamp, ir.value, ir.qualities);
  }
  return { readings, unknownCodes: [...unknown] };
}
