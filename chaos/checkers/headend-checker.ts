/**
 * Head-end checker: every reading the field simulators produced (the ground truth) appears
 * exactly once, with its value, in each output (SMMePlus CSV and CIM MeterReadings); no output
 * holds a reading the simulators never produced.
 */
import type { CimMeterReading } from '../../adapters/cim/model.js';
import { type Anomaly, type CheckResult, checkResult } from './history.js';

/** One reading, normalised across outputs: timestamp in epoch ms, value as a number. */
export type ReadingRecord = { meter: string; readingType: string; timestampMs: number; value: number };

function identity(r: ReadingRecord): string {
  return `${r.meter}|${r.readingType}|${r.timestampMs}`;
}

/** Values are compared to a relative 1e-9: CSV and XML carry decimal text, not binary doubles. */
function sameValue(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

export function checkReadingsExactlyOnce(
  output: string,
  truth: readonly ReadingRecord[],
  delivered: readonly ReadingRecord[],
): CheckResult {
  const checker = `headend-${output}`;
  const anomalies: Anomaly[] = [];
  const expected = new Map(truth.map((r) => [identity(r), r]));
  const seen = new Map<string, ReadingRecord[]>();
  for (const r of delivered) {
    const id = identity(r);
    seen.set(id, [...(seen.get(id) ?? []), r]);
  }
  for (const [id, copies] of seen) {
    const want = expected.get(id);
    if (!want) {
      anomalies.push({
        checker,
        kind: 'phantom-reading',
        message: `${output}: ${id} was never produced`,
        evidence: copies,
      });
      continue;
    }
    if (copies.length > 1) {
      anomalies.push({
        checker,
        kind: 'duplicate-reading',
        message: `${output}: ${id} appears ${copies.length} times`,
        evidence: copies,
      });
    }
    const wrong = copies.find((c) => !sameValue(c.value, want.value));
    if (wrong) {
      anomalies.push({
        checker,
        kind: 'wrong-value',
        message: `${output}: ${id} has value ${wrong.value}, produced ${want.value}`,
        evidence: { produced: want, delivered: wrong },
      });
    }
  }
  for (const [id, want] of expected) {
    if (!seen.has(id)) {
      anomalies.push({
        checker,
        kind: 'missing-reading',
        message: `${output}: ${id} is missing`,
        evidence: want,
      });
    }
  }
  return checkResult(checker, anomalies, { produced: truth.length, delivered: delivered.length });
}

/** Rows of an SMMePlus `S_` file (serialnumber;pod;value;state;cimcode;sampledate) as records. */
export function readingsFromCsvRows(
  rows: ReadonlyArray<Record<string, string>>,
  parseTimestamp: (text: string) => number,
): ReadingRecord[] {
  return rows.map((row) => ({
    meter: row.serialnumber ?? '',
    readingType: row.cimcode ?? '',
    timestampMs: parseTimestamp(row.sampledate ?? ''),
    value: Number(row.value),
  }));
}

/** Readings and interval readings of parsed CIM MeterReadings as records (meter = first name or mRID). */
export function readingsFromCim(meterReadings: readonly CimMeterReading[]): ReadingRecord[] {
  const out: ReadingRecord[] = [];
  const toMs = (text: string | undefined) =>
    Date.parse(text && /(Z|[+-]\d\d:\d\d)$/.test(text) ? text : `${text}Z`);
  for (const mr of meterReadings) {
    const meter = mr.meter?.names[0] ?? mr.meter?.mRID ?? '';
    for (const r of mr.readings) {
      out.push({ meter, readingType: r.readingType, timestampMs: toMs(r.timeStamp), value: Number(r.value) });
    }
    for (const block of mr.intervalBlocks) {
      for (const r of block.intervalReadings) {
        out.push({
          meter,
          readingType: block.readingType,
          timestampMs: toMs(r.timeStamp),
          value: Number(r.value),
        });
      }
    }
  }
  return out;
}
