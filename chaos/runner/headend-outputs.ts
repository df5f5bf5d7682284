/**
 * Reads what the head-end wrote (SMMePlus CSV files, CIM MeterReadings messages) and what the
 * simulated field produced (ground truth) as the head-end checker's ReadingRecords, all in one
 * vocabulary: `readingType` is `<truth kind>/<code>` (e.g. `interval/profile`,
 * `dailyClosure/1.8.3`, `voltage/32.7.0`) and values are in the field's units (Wh, V). CIM
 * ReadingType codes are matched forward through the one mapping table (`readingTypeFor`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dailyClosureCodes, type TruthValue } from '../../actors/simulation/ground-truth.js';
import { parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { readingTypeFor, unitOfCode } from '../../adapters/cim/reading-type-map.js';
import { parseCsvFile, parseCsvTimestamp } from '../../adapters/csv/codec.js';
import type { DailyKind } from '../../adapters/csv/formats.js';
import { csvDir } from '../../adapters/csv/reports.js';
import { MeterfabricError } from '../../core/errors.js';
import { type ReadingRecord, readingsFromCim, readingsFromCsvRows } from '../checkers/headend-checker.js';

/** The reading kinds both outputs carry (status words and alarms are events, not readings). */
const checkedKinds = new Set<TruthValue['kind']>(['interval', 'dailyClosure', 'voltage']);

export function truthReadings(truth: readonly TruthValue[]): ReadingRecord[] {
  return truth
    .filter((v) => checkedKinds.has(v.kind))
    .map((v) => ({
      meter: v.meterSerial,
      readingType: `${v.kind}/${v.code}`,
      timestampMs: v.timestampMs,
      value: v.value,
    }));
}

async function csvFilesIn(dir: string, kind: DailyKind): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((f) => f.startsWith(`${kind}_`) && f.endsWith('.csv'))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return []; // no file of this kind written
  }
}

async function csvRows(
  outDir: string,
  organization: string,
  kind: DailyKind,
): Promise<Record<string, string>[]> {
  const rows: Record<string, string>[] = [];
  for (const file of await csvFilesIn(csvDir(outDir, organization, kind), kind))
    rows.push(...parseCsvFile(kind, await readFile(file, 'utf8')));
  return rows;
}

/** S_ (load profile), DC_ (daily closures: tot = 1.8.0, t1..t6 = 1.8.1..1.8.6), MP_, PP_ and VV_ rows. */
export async function csvReadings(outDir: string, organization: string): Promise<ReadingRecord[]> {
  const out = readingsFromCsvRows(await csvRows(outDir, organization, 'S'), parseCsvTimestamp).map((r) => ({
    ...r,
    readingType: 'interval/profile',
  }));
  for (const row of await csvRows(outDir, organization, 'DC')) {
    const timestampMs = parseCsvTimestamp(row.time ?? '');
    const meter = row.serialnumber ?? '';
    const columns = ['tot', 't1', 't2', 't3', 't4', 't5', 't6'];
    for (const [i, column] of columns.entries()) {
      // An empty cell is a register the meter did not report: not a reading (and not 0).
      const text = row[column] ?? '';
      if (text !== '')
        out.push({ meter, readingType: `dailyClosure/1.8.${i}`, timestampMs, value: Number(text) });
    }
  }
  // MP_ (maximum demand at its peak time) and PP_ (prepayment registers): collected with each
  // daily closure. MP_ rows of on-demand register reads carry another cimcode: not tallied.
  const closureMaximumDemand = new Map(
    ['1.6.0', '2.6.0'].map(
      (code) => [readingTypeFor({ source: 'obis', code }, 'dailyClosure'), code] as const,
    ),
  );
  for (const row of await csvRows(outDir, organization, 'MP')) {
    const code = closureMaximumDemand.get(row.cimcode ?? '');
    if (code === undefined) continue;
    out.push({
      meter: row.serialnumber ?? '',
      readingType: `dailyClosure/${code}`,
      timestampMs: parseCsvTimestamp(row.time ?? ''),
      value: Number(row.value),
    });
  }
  for (const row of await csvRows(outDir, organization, 'PP'))
    out.push({
      meter: row.serialnumber ?? '',
      readingType: `dailyClosure/${row.register ?? ''}`,
      timestampMs: parseCsvTimestamp(row.time ?? ''),
      value: Number(row.value),
    });
  for (const row of await csvRows(outDir, organization, 'VV'))
    out.push({
      meter: row.serialnumber ?? '',
      readingType: 'voltage/32.7.0',
      timestampMs: parseCsvTimestamp(row.time ?? ''),
      value: Number(row.value),
    });
  return out;
}

/** CIM ReadingType code -> our vocabulary, computed forward from the mapping table. */
function cimCodeMeanings(): Map<string, string> {
  return new Map<string, string>([
    [
      readingTypeFor({ source: 'profile', quantity: 'activeImportInterval' }, 'interval', 'standard', {
        intervalSeconds: 3600,
      }),
      'interval/profile',
    ],
    [readingTypeFor({ source: 'obis', code: '32.7.0' }, 'instantaneous'), 'voltage/32.7.0'],
    // Daily closure registers, and what is collected with the closure (maximum demand, prepayment).
    ...dailyClosureCodes.map(
      (code) => [readingTypeFor({ source: 'obis', code }, 'dailyClosure'), `dailyClosure/${code}`] as const,
    ),
  ]);
}

/**
 * Every reading of every MeterReadings message. A ReadingType the head-end should not emit for
 * this fleet is kept under its raw code, so the checker reports it as a phantom reading.
 */
export async function cimReadings(outDir: string): Promise<ReadingRecord[]> {
  const dir = join(outDir, 'cim', 'MeterReadings');
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.xml')).sort();
  } catch {
    return [];
  }
  const meanings = cimCodeMeanings();
  const out: ReadingRecord[] = [];
  for (const file of files) {
    let parsed: ReturnType<typeof parseMeterReadingsMessage>;
    try {
      parsed = parseMeterReadingsMessage(await readFile(join(dir, file), 'utf8'));
    } catch (err) {
      throw new MeterfabricError(
        'MF_CHAOS_HEADEND_OUTPUT',
        `${join(dir, file)}: not a MeterReadings message`,
        {
          cause: String(err),
        },
      );
    }
    for (const r of readingsFromCim(parsed.meterReadings)) {
      const meaning = meanings.get(r.readingType);
      // Energy travels as kWh in CIM; the field counts Wh.
      const value = meaning && unitOfCode(r.readingType) === 'kWh' ? Math.round(r.value * 1000) : r.value;
      out.push({ ...r, readingType: meaning ?? r.readingType, value });
    }
  }
  return out;
}
