import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { dailyClosureCodes, truthKey } from '../../actors/simulation/ground-truth.js';
import { deviceEventKeyOf, parseEndDeviceEventsMessage } from '../../adapters/cim/end-device-events.js';
import { dateTimeMs, parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { readingTypeFor, unitOfCode } from '../../adapters/cim/reading-type-map.js';
import { parseCsvFile, parseCsvTimestamp } from '../../adapters/csv/codec.js';
import type { DailyKind } from '../../adapters/csv/formats.js';
import { csvDir } from '../../adapters/csv/reports.js';
import type { InternalQuantity, ReadingKind } from '../../adapters/field-data.js';

/**
 * Reads what the integration wrote under `outDir` back into ground-truth keys with counts:
 * modem meters' CSV and CIM output, KNX and battery sites' readings and events.
 */

export const validateScript = join(process.cwd(), '..', 'shared', 'cim-xsd', 'validate.sh');
const run = promisify(execFile);

export type Tally = Map<string, { count: number; values: number[] }>;

function add(tally: Tally, key: string, value: number): void {
  const entry = tally.get(key) ?? { count: 0, values: [] };
  entry.count += 1;
  entry.values.push(value);
  tally.set(key, entry);
}

async function filesIn(dir: string, prefix: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((f) => f.startsWith(prefix) && f.endsWith('.csv'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

export async function csvTally(outDir: string, organization: string): Promise<Tally> {
  const tally: Tally = new Map();
  const rowsOf = async (kind: DailyKind) => {
    const rows: Record<string, string>[] = [];
    for (const file of await filesIn(csvDir(outDir, organization, kind), `${kind}_`))
      rows.push(...parseCsvFile(kind, await readFile(file, 'utf8')));
    return rows;
  };
  for (const r of await rowsOf('S'))
    add(
      tally,
      truthKey({
        kind: 'interval',
        meterSerial: r.serialnumber!,
        code: 'profile',
        timestampMs: parseCsvTimestamp(r.sampledate!),
      }),
      Number(r.value),
    );
  for (const r of await rowsOf('DC')) {
    const timestampMs = parseCsvTimestamp(r.time!);
    add(
      tally,
      truthKey({ kind: 'dailyClosure', meterSerial: r.serialnumber!, code: '1.8.0', timestampMs }),
      Number(r.tot),
    );
    for (let t = 1; t <= 6; t++)
      add(
        tally,
        truthKey({ kind: 'dailyClosure', meterSerial: r.serialnumber!, code: `1.8.${t}`, timestampMs }),
        Number(r[`t${t}`]),
      );
  }
  // MP_ and PP_: the values collected with each daily closure (maximum demand at its peak
  // time, prepayment credit registers), truth kind 'dailyClosure'. MP_ rows of on-demand
  // register reads have another cimcode and, like R_, are not tallied.
  for (const r of await rowsOf('MP')) {
    const code = closureMaximumDemand.get(r.cimcode!);
    if (!code) continue;
    add(
      tally,
      truthKey({
        kind: 'dailyClosure',
        meterSerial: r.serialnumber!,
        code,
        timestampMs: parseCsvTimestamp(r.time!),
      }),
      Number(r.value),
    );
  }
  for (const r of await rowsOf('PP'))
    add(
      tally,
      truthKey({
        kind: 'dailyClosure',
        meterSerial: r.serialnumber!,
        code: r.register!,
        timestampMs: parseCsvTimestamp(r.time!),
      }),
      Number(r.value),
    );
  for (const r of await rowsOf('VV'))
    add(
      tally,
      truthKey({
        kind: 'voltage',
        meterSerial: r.serialnumber!,
        code: '32.7.0',
        timestampMs: parseCsvTimestamp(r.time!),
      }),
      Number(r.value),
    );
  for (const r of await rowsOf('SWE')) {
    const word = Number.parseInt(r.statusword!, 16);
    add(
      tally,
      truthKey({
        kind: 'statusAlarm',
        meterSerial: r.serialnumber!,
        code: String(Math.log2(word)),
        timestampMs: parseCsvTimestamp(r.time!),
      }),
      word,
    );
  }
  return tally;
}

const closureMaximumDemand = new Map(
  ['1.6.0', '2.6.0'].map((code) => [readingTypeFor({ source: 'obis', code }, 'dailyClosure'), code] as const),
);

export async function cimFiles(outDir: string): Promise<{ noun: string; path: string }[]> {
  const out: { noun: string; path: string }[] = [];
  for (const noun of ['MeterReadings', 'EndDeviceEvents']) {
    try {
      for (const f of await readdir(join(outDir, 'cim', noun)))
        if (f.endsWith('.xml')) out.push({ noun, path: join(outDir, 'cim', noun, f) });
    } catch {
      // no messages of this noun
    }
  }
  return out;
}

type Meaning = { kind: 'interval' | 'dailyClosure' | 'voltage' | 'knx' | 'battery'; code: string };

/**
 * ReadingType code -> ground-truth kind and code, for modem meters, KNX and battery sites.
 * Computed forward from the one mapping table: the reverse lookup is ambiguous where two
 * quantities share a code, so a shared code here fails at once.
 */
const codeMeaning = ((): Map<string, Meaning> => {
  const entries: Array<[InternalQuantity, ReadingKind, Meaning, { intervalSeconds?: number }?]> = [
    [
      { source: 'profile', quantity: 'activeImportInterval' },
      'interval',
      { kind: 'interval', code: 'profile' },
      { intervalSeconds: 3600 },
    ],
    [{ source: 'obis', code: '32.7.0' }, 'instantaneous', { kind: 'voltage', code: '32.7.0' }],
    // Daily closure registers, and what is collected with the closure: maximum demand (kW)
    // and prepayment registers (EUR).
    ...dailyClosureCodes.map((code): [InternalQuantity, ReadingKind, Meaning] => [
      { source: 'obis', code },
      'dailyClosure',
      { kind: 'dailyClosure', code },
    ]),
    [{ source: 'knx', dpt: '13.010' }, 'register', { kind: 'knx', code: '13.010' }],
    [{ source: 'knx', dpt: '14.056' }, 'instantaneous', { kind: 'knx', code: '14.056' }],
    [{ source: 'knx', dpt: '14.027', quantity: 'L1' }, 'instantaneous', { kind: 'knx', code: '14.027' }],
    ...(['stateOfCharge', 'stateOfHealth', 'voltage', 'current', 'temperature'] as const).map(
      (quantity): [InternalQuantity, ReadingKind, Meaning] => [
        { source: 'battery', quantity },
        'instantaneous',
        { kind: 'battery', code: quantity },
      ],
    ),
  ];
  const out = new Map<string, Meaning>();
  for (const [quantity, kind, meaning, options] of entries) {
    const code = readingTypeFor(quantity, kind, 'standard', options ?? {});
    if (out.has(code))
      throw new Error(`two quantities share ReadingType ${code}: the tally would be ambiguous`);
    out.set(code, meaning);
  }
  return out;
})();

export type CimTally = {
  tally: Tally;
  /** CorrelationIDs of the EndDeviceEvents messages. */
  correlations: string[];
  readingTypes: Set<string>;
  eventTypes: Set<string>;
};

/**
 * Every reading and event of every CIM message as ground-truth keys: readings by code (meter
 * registers are published in kWh, the simulator counts Wh), status words, battery events.
 */
export async function cimTally(outDir: string): Promise<CimTally> {
  const result: CimTally = {
    tally: new Map(),
    correlations: [],
    readingTypes: new Set(),
    eventTypes: new Set(),
  };
  const { tally } = result;
  for (const { noun, path } of await cimFiles(outDir)) {
    const xml = await readFile(path, 'utf8');
    if (noun === 'MeterReadings') {
      for (const mr of parseMeterReadingsMessage(xml).meterReadings) {
        const meterSerial = mr.meter?.names[0] ?? '';
        const values = [
          ...mr.readings.map((r) => ({ code: r.readingType, timeStamp: r.timeStamp, value: r.value })),
          ...mr.intervalBlocks.flatMap((b) =>
            b.intervalReadings.map((r) => ({ code: b.readingType, timeStamp: r.timeStamp, value: r.value })),
          ),
        ];
        for (const v of values) {
          const meaning = codeMeaning.get(v.code);
          if (!meaning || v.timeStamp === undefined || v.value === undefined)
            throw new Error(`unexpected reading type ${v.code} in ${path}`);
          result.readingTypes.add(v.code);
          const raw = Number(v.value);
          add(
            tally,
            truthKey({ ...meaning, meterSerial, timestampMs: dateTimeMs(v.timeStamp) }),
            unitOfCode(v.code) === 'kWh' ? Math.round(raw * 1000) : raw,
          );
        }
      }
    } else {
      const { header, events } = parseEndDeviceEventsMessage(xml);
      if (header.correlationId) result.correlations.push(header.correlationId);
      for (const e of events) {
        result.eventTypes.add(e.eventType);
        const meterSerial = e.assets?.names[0] ?? '';
        const timestampMs = dateTimeMs(e.createdDateTime);
        const word = e.details.find((d) => d.name === 'STATUSWORD')?.value;
        if (word !== undefined) {
          const bits = Number.parseInt(word, 16);
          add(
            tally,
            truthKey({ kind: 'statusAlarm', meterSerial, code: String(Math.log2(bits)), timestampMs }),
            bits,
          );
          continue;
        }
        const known = deviceEventKeyOf(e);
        if (known?.key.startsWith('battery.'))
          add(
            tally,
            truthKey({ kind: 'batteryEvent', meterSerial, code: `${known.key}:${known.phase}`, timestampMs }),
            1,
          );
      }
    }
  }
  return result;
}

/** R_ rows (current-period registers): KNX energy counters land here as `tot`. */
export async function registerCsvTally(outDir: string, organization: string): Promise<Tally> {
  const tally: Tally = new Map();
  for (const file of await filesIn(csvDir(outDir, organization, 'R'), 'R_'))
    for (const r of parseCsvFile('R', await readFile(file, 'utf8'))) {
      const key = truthKey({
        kind: 'knx',
        meterSerial: r.serialnumber!,
        code: '13.010',
        timestampMs: parseCsvTimestamp(r.time!),
      });
      add(tally, key, Number(r.tot));
      for (let t = 1; t <= 6; t++)
        if (Number(r[`t${t}`]) !== 0) add(tally, `${key}|t${t}`, Number(r[`t${t}`]));
    }
  return tally;
}

/** Runs ../shared/cim-xsd/validate.sh on each file; returns the failures with xmllint's output. */
export async function validateAll(paths: string[]): Promise<string[]> {
  const failures: string[] = [];
  for (const path of paths) {
    try {
      await run('sh', [validateScript, path], { timeout: 30_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      failures.push(`${path}: ${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
  return failures;
}

/** Compares a tally with the truth: missing, duplicated and extra (or wrong-valued) keys. */
export function compare(truth: Map<string, number>, tally: Tally, kinds: readonly string[]) {
  const relevant = [...truth].filter(([k]) => kinds.includes(k.split('|')[0]!));
  const missing = relevant.filter(([k]) => !tally.has(k)).map(([k]) => k);
  const twice = [...tally].filter(([, v]) => v.count > 1).map(([k]) => k);
  const extra = [...tally]
    .filter(
      ([k, v]) => !truth.has(k) || v.values.some((x) => Math.abs(x - (truth.get(k) ?? Number.NaN)) > 1e-6),
    )
    .map(([k, v]) => `${k}=${v.values.join(',')} (truth ${truth.get(k)})`);
  return { missing, twice, extra };
}

/** The ground-truth kinds of modem-attached meters that every head-end day checks. */
export const meterKinds: readonly string[] = ['interval', 'dailyClosure', 'voltage', 'statusAlarm'];

/** Every truth value of `kinds` is in the CSV files and in the CIM messages exactly once, with its value. */
export async function expectExactlyOnceInOutputs(
  truth: Map<string, number>,
  outDir: string,
  organization: string,
  kinds: readonly string[] = meterKinds,
): Promise<void> {
  const none = { missing: [], twice: [], extra: [] };
  expect(compare(truth, await csvTally(outDir, organization), kinds)).toEqual(none);
  expect(compare(truth, (await cimTally(outDir)).tally, kinds)).toEqual(none);
}

/** More than `moreThan` CIM messages were written, every one XSD-valid. */
export async function expectValidCim(outDir: string, moreThan: number): Promise<void> {
  const files = await cimFiles(outDir);
  expect(files.length).toBeGreaterThan(moreThan);
  expect(await validateAll(files.map((f) => f.path))).toEqual([]);
}
