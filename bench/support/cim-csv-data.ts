/**
 * The cim-csv bench's data and its baselines: load-profile readings of many meters (one CIM
 * MeterReadings message per group of meters), the same readings as SMMePlus S_ rows, and the
 * plain string-concatenation encoders of exactly the output the real encoders write (the bench
 * checks them byte for byte before timing).
 */

import { type CsvRow, formatCsvTimestamp } from '../../adapters/csv/codec.js';
import type { CollectedReading } from '../../adapters/field-data.js';

export const METERS_PER_MESSAGE = 40;
export const HOURS = 24;
export const LP_CODE = '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0';
export const DAY_MS = Date.UTC(2026, 10, 22);

export function readingsFor(message: number): CollectedReading[] {
  const out: CollectedReading[] = [];
  for (let m = 0; m < METERS_PER_MESSAGE; m++) {
    const meterSerial = `UAAEEDN${message}${String(m).padStart(6, '0')}`;
    for (let h = 1; h <= HOURS; h++)
      out.push({
        meterSerial,
        usagePoint: `POD${m}`,
        kind: 'interval',
        quantity: { source: 'profile', quantity: 'activeImportInterval' },
        value: (m * 31 + h * 17) % 900,
        unit: 'Wh',
        timestampMs: DAY_MS + h * 3_600_000,
        intervalSeconds: 3600,
      });
  }
  return out;
}

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** The baseline: hand-written concatenation of exactly the XML encodeMeterReadings emits for this data. */
export function concatMeterReadings(
  readings: readonly CollectedReading[],
  messageId: string,
  timestampMs: number,
): string {
  let xml = `<?xml version="1.0" encoding="utf-8"?>\n<EventMessage xmlns="http://iec.ch/TC57/2011/schema/message">\n  <Header>\n    <Verb>created</Verb>\n    <Noun>MeterReadings</Noun>\n    <Revision>2.0</Revision>\n    <Timestamp>${iso(timestampMs)}</Timestamp>\n    <Source>bench</Source>\n    <MessageID>${messageId}</MessageID>\n  </Header>\n  <Payload>\n    <MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#">\n`;
  for (let i = 0; i < readings.length; i += HOURS) {
    const first = readings[i]!;
    xml += '      <MeterReading>\n        <IntervalBlocks>\n';
    for (let h = 0; h < HOURS; h++) {
      const r = readings[i + h]!;
      xml += `          <IntervalReadings>\n            <timeStamp>${iso(r.timestampMs)}</timeStamp>\n            <value>${r.value}</value>\n            <ReadingQualities>\n              <ReadingQualityType ref="1.0.0"/>\n            </ReadingQualities>\n          </IntervalReadings>\n`;
    }
    xml += `          <ReadingType ref="${LP_CODE}"/>\n        </IntervalBlocks>\n        <Meter>\n          <Names>\n            <name>${escapeText(first.meterSerial)}</name>\n          </Names>\n        </Meter>\n        <UsagePoint>\n          <Names>\n            <name>${escapeText(first.usagePoint!)}</name>\n          </Names>\n        </UsagePoint>\n      </MeterReading>\n`;
  }
  return `${xml}    </MeterReadings>\n  </Payload>\n</EventMessage>\n`;
}

export function csvRowsFor(chunk: number): CsvRow[] {
  return readingsFor(chunk).map((r) => ({
    serialnumber: r.meterSerial,
    pod: r.usagePoint!,
    value: r.value,
    state: 0,
    cimcode: LP_CODE,
    sampledate: r.timestampMs,
  }));
}

/** The CSV baseline: join with ';' (no field here needs quoting), same number and time formats. */
export function concatCsv(rows: CsvRow[]): string {
  let out = '';
  for (const r of rows)
    out += `${r.serialnumber};${r.pod};${r.value};${r.state};${r.cimcode};${formatCsvTimestamp(r.sampledate as number)}\n`;
  return out;
}

export const clockOf = (ms: number) => ({ now: () => ms });
