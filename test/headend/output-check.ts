import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { truthKey } from '../../actors/simulation/ground-truth.js';
import { parseEndDeviceEventsMessage } from '../../adapters/cim/end-device-events.js';
import { dateTimeMs, parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { readingTypeFor, unitOfCode } from '../../adapters/cim/reading-type-map.js';
import { parseCsvFile, parseCsvTimestamp } from '../../adapters/csv/codec.js';
import type { DailyKind } from '../../adapters/csv/formats.js';
import { csvDir } from '../../adapters/csv/reports.js';

/** Reads what the integration wrote under `outDir` back into ground-truth keys with counts. */

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

const codeMeaning = new Map<string, { kind: 'interval' | 'dailyClosure' | 'voltage'; code: string }>([
  [
    readingTypeFor({ source: 'profile', quantity: 'activeImportInterval' }, 'interval', 'standard', {
      intervalSeconds: 3600,
    }),
    { kind: 'interval', code: 'profile' },
  ],
  [readingTypeFor({ source: 'obis', code: '32.7.0' }, 'instantaneous'), { kind: 'voltage', code: '32.7.0' }],
  ...[0, 1, 2, 3, 4, 5, 6].map(
    (t) =>
      [
        readingTypeFor({ source: 'obis', code: `1.8.${t}` }, 'dailyClosure'),
        { kind: 'dailyClosure' as const, code: `1.8.${t}` },
      ] as const,
  ),
  // Collected with the closure: maximum demand (kW) and prepayment registers (EUR).
  ...['1.6.0', '2.6.0', '19.10.0', '19.20.0'].map(
    (code) =>
      [
        readingTypeFor({ source: 'obis', code }, 'dailyClosure'),
        { kind: 'dailyClosure' as const, code },
      ] as const,
  ),
]);

export async function cimTally(outDir: string): Promise<{ tally: Tally; correlations: string[] }> {
  const tally: Tally = new Map();
  const correlations: string[] = [];
  for (const { noun, path } of await cimFiles(outDir)) {
    const xml = await readFile(path, 'utf8');
    if (noun === 'MeterReadings') {
      // Matched by ReadingType code, computed forward from the one mapping table: the reverse
      // lookup is ambiguous where two quantities share a code.
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
          const raw = Number(v.value);
          const value = unitOfCode(v.code) === 'kWh' ? Math.round(raw * 1000) : raw;
          add(
            tally,
            truthKey({
              kind: meaning.kind,
              meterSerial,
              code: meaning.code,
              timestampMs: dateTimeMs(v.timeStamp),
            }),
            value,
          );
        }
      }
    } else {
      const { header, events } = parseEndDeviceEventsMessage(xml);
      if (header.correlationId) correlations.push(header.correlationId);
      for (const e of events) {
        const word = e.details.find((d) => d.name === 'STATUSWORD')?.value;
        if (word === undefined) continue;
        const bits = Number.parseInt(word, 16);
        add(
          tally,
          truthKey({
            kind: 'statusAlarm',
            meterSerial: e.assets?.names[0] ?? '',
            code: String(Math.log2(bits)),
            timestampMs: dateTimeMs(e.createdDateTime),
          }),
          bits,
        );
      }
    }
  }
  return { tally, correlations };
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
