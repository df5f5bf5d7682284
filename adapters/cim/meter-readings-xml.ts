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
 * per message; per reading there is one value text and one template string.
 */
export const METER_READINGS_NS = payloadNs('MeterReadings');
export const VALID_QUALITY = '1.0.0';

/** What a reading type contributes to every reading of it, resolved once per message. */
type ResolvedType = {
  interval: boolean;
  code: string;
  codeRef: string;
  scale: number;
  /** ReadingQualities elements under IntervalReadings (indent 12) and under Readings (indent 10). */
  qualitiesInInterval: string;
  qualitiesInReading: string;
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
  return {
    interval: t.kind === 'interval',
    code,
    codeRef: escapeXml(String(code)),
    scale,
    qualitiesInInterval: qualitiesXml(qualities, '            '),
    qualitiesInReading: qualitiesXml(qualities, '          '),
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

/**
 * One EventMessage (declaration included) carrying the packed readings as MeterReadings:
 * one MeterReading per meter and usage point in order of first appearance, load-profile
 * values in IntervalBlocks per ReadingType (in time order), the rest as Readings.
 * `columns` must have passed `checkReadingColumns` (or come from `packReadings`).
 */
export function encodeMeterReadingsColumns(
  columns: ReadingColumns,
  header: MessageHeader,
  profile: ReadingTypeProfile = 'standard',
): string {
  const { count, strings, types, meter, usagePoint, type, value, timestampMs } = columns;
  const resolved: (ResolvedType | undefined)[] = new Array(types.length);
  const groups: Group[] = [];
  const groupIndex = new Map<string, Group>();
  const times = new Map<number, string>();
  const valueText: string[] = new Array(count);
  const timeText: string[] = new Array(count);
  let lastMeter = -1;
  let lastUsagePoint = -1;
  let group: Group | undefined;
  // In reading order, so the first bad reading throws what the model path throws for it.
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
    valueText[i] = formatValue(scaleToCodeUnit(value[i]!, rt.scale));
    const ms = timestampMs[i]!;
    let time = times.get(ms);
    if (time === undefined) {
      time = isoUtc(ms);
      times.set(ms, time);
    }
    timeText[i] = time;
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
  let xml = `<?xml version="1.0" encoding="utf-8"?>\n<EventMessage xmlns="${MESSAGE_NS}">\n${elementXml('Header', headerXml(header), '  ')}  <Payload>\n`;
  if (groups.length === 0)
    return `${xml}    <MeterReadings xmlns="${METER_READINGS_NS}"/>\n  </Payload>\n</EventMessage>\n`;
  xml += `    <MeterReadings xmlns="${METER_READINGS_NS}">\n`;
  for (const g of groups) {
    xml += '      <MeterReading>\n';
    for (const block of g.blocks) {
      inTimeOrder(block, timestampMs);
      xml += '        <IntervalBlocks>\n';
      for (const i of block.readings)
        xml += `          <IntervalReadings>\n            <timeStamp>${timeText[i]}</timeStamp>\n            <value>${valueText[i]}</value>\n${resolved[type[i]!]!.qualitiesInInterval}          </IntervalReadings>\n`;
      xml += `          <ReadingType ref="${block.codeRef}"/>\n        </IntervalBlocks>\n`;
    }
    xml += nameRefXml('Meter', g.meterText);
    for (const i of g.readings) {
      const rt = resolved[type[i]!]!;
      xml += `        <Readings>\n          <timeStamp>${timeText[i]}</timeStamp>\n          <value>${valueText[i]}</value>\n${rt.qualitiesInReading}          <ReadingType ref="${rt.codeRef}"/>\n        </Readings>\n`;
    }
    if (g.usagePointText !== undefined) xml += nameRefXml('UsagePoint', g.usagePointText);
    xml += '      </MeterReading>\n';
  }
  return `${xml}    </MeterReadings>\n  </Payload>\n</EventMessage>\n`;
}
