import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { truthKey } from '../../actors/simulation/ground-truth.js';
import { deviceEventKeyOf, parseEndDeviceEventsMessage } from '../../adapters/cim/end-device-events.js';
import { dateTimeMs, parseMeterReadingsMessage } from '../../adapters/cim/meter-readings.js';
import { readingTypeFor, unitOfCode } from '../../adapters/cim/reading-type-map.js';
import { parseCsvFile, parseCsvTimestamp } from '../../adapters/csv/codec.js';
import { csvDir } from '../../adapters/csv/reports.js';
import type { BatteryQuantity, InternalQuantity, ReadingKind } from '../../adapters/field-data.js';
import { cimFiles, type Tally } from './output-check.js';

/**
 * Reads the KNX and battery sites' values back out of what the integration wrote, as
 * ground-truth keys with counts (output-check.ts does the same for modem-attached meters).
 * ReadingType codes are computed forward from the one mapping table.
 */

function add(tally: Tally, key: string, value: number): void {
  const entry = tally.get(key) ?? { count: 0, values: [] };
  entry.count += 1;
  entry.values.push(value);
  tally.set(key, entry);
}

type Meaning = { kind: 'interval' | 'dailyClosure' | 'voltage' | 'knx' | 'battery'; code: string };

function meanings(): Map<string, Meaning> {
  const entries: [InternalQuantity, ReadingKind, Meaning, { intervalSeconds?: number }?][] = [
    [
      { source: 'profile', quantity: 'activeImportInterval' },
      'interval',
      { kind: 'interval', code: 'profile' },
      { intervalSeconds: 3600 },
    ],
    [{ source: 'obis', code: '32.7.0' }, 'instantaneous', { kind: 'voltage', code: '32.7.0' }],
    ...[0, 1, 2, 3, 4, 5, 6].map(
      (t) =>
        [
          { source: 'obis', code: `1.8.${t}` },
          'dailyClosure',
          { kind: 'dailyClosure', code: `1.8.${t}` },
        ] as [InternalQuantity, ReadingKind, Meaning],
    ),
    [{ source: 'knx', dpt: '13.010' }, 'register', { kind: 'knx', code: '13.010' }],
    [{ source: 'knx', dpt: '14.056' }, 'instantaneous', { kind: 'knx', code: '14.056' }],
    [{ source: 'knx', dpt: '14.027', quantity: 'L1' }, 'instantaneous', { kind: 'knx', code: '14.027' }],
    ...(['stateOfCharge', 'stateOfHealth', 'voltage', 'current', 'temperature'] as BatteryQuantity[]).map(
      (quantity) =>
        [{ source: 'battery', quantity }, 'instantaneous', { kind: 'battery', code: quantity }] as [
          InternalQuantity,
          ReadingKind,
          Meaning,
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
}

/** Every reading and event of every CIM message: readings by code, status-word and battery events. */
export async function fleetCimTally(
  outDir: string,
): Promise<{ tally: Tally; readingTypes: Set<string>; eventTypes: Set<string> }> {
  const codeMeaning = meanings();
  const tally: Tally = new Map();
  const readingTypes = new Set<string>();
  const eventTypes = new Set<string>();
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
          readingTypes.add(v.code);
          // Meter registers are published in kWh; the simulator counts Wh.
          const raw = Number(v.value);
          add(
            tally,
            truthKey({ ...meaning, meterSerial, timestampMs: dateTimeMs(v.timeStamp) }),
            unitOfCode(v.code) === 'kWh' ? Math.round(raw * 1000) : raw,
          );
        }
      }
    } else {
      for (const e of parseEndDeviceEventsMessage(xml).events) {
        eventTypes.add(e.eventType);
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
  return { tally, readingTypes, eventTypes };
}

/** R_ rows (current-period registers): KNX energy counters land here as `tot`. */
export async function registerCsvTally(outDir: string, organization: string): Promise<Tally> {
  const dir = csvDir(outDir, organization, 'R');
  const tally: Tally = new Map();
  let files: string[] = [];
  try {
    files = (await readdir(dir)).filter((f) => f.startsWith('R_') && f.endsWith('.csv'));
  } catch {
    return tally;
  }
  for (const file of files)
    for (const r of parseCsvFile('R', await readFile(join(dir, file), 'utf8'))) {
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
