import {
  normalizeObis,
  type ReadingTypeProfile,
  readingTypeFor,
  valueInCodeUnit,
} from '../cim/reading-type-map.js';
import type { CollectedReading } from '../field-data.js';
import type { CsvRow } from './codec.js';
import { energyTypeOf } from './energy-types.js';

/**
 * Collected readings -> SMMePlus rows, for the head-end's stream consumers. Energy values are
 * written in Wh (VArh for reactive) as the seed's files show; the ReadingType code in
 * `cimcode` columns comes from the one mapping table (seed-compat profile by default, so the
 * files carry the strings integrators already match on).
 */
const WH_CODE = '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.0.72.0';
const VARH_CODE = '0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.0.73.0';
const VALID = '1.0.0';

function isValid(qualities: string[] | undefined): boolean {
  return !qualities || qualities.length === 0 || qualities.every((q) => q === VALID);
}

/** S_ rows from interval readings; `state` is 0 for valid values, 1 otherwise (estimated, missing ...). */
export function loadProfileRows(
  readings: readonly CollectedReading[],
  profile: ReadingTypeProfile = 'seed-compat',
): CsvRow[] {
  return readings
    .filter((r) => r.kind === 'interval')
    .map((r) => {
      const cimcode = readingTypeFor(
        r.quantity,
        r.kind,
        profile,
        r.intervalSeconds ? { intervalSeconds: r.intervalSeconds } : {},
      );
      return {
        serialnumber: r.meterSerial,
        pod: r.usagePoint ?? '',
        value: valueInCodeUnit(r.value, r.unit, cimcode),
        state: isValid(r.qualities) ? 0 : 1,
        cimcode,
        sampledate: r.timestampMs,
      };
    });
}

/**
 * DC_ (kind 'dailyClosure', previous period) or R_ (kind 'register', current period) rows:
 * OBIS C.8.0 is `tot`, C.8.1..C.8.6 are t1..t6, one row per meter, register group and instant.
 * A register the meter did not report is null (an empty cell, the format's null), never 0:
 * 0 is a real reading ("no energy in this tariff"), an empty cell means "not collected".
 */
export function registerRows(
  readings: readonly CollectedReading[],
  kind: 'dailyClosure' | 'register',
): CsvRow[] {
  const rows = new Map<string, CsvRow>();
  for (const r of readings) {
    if (r.kind !== kind || r.quantity.source !== 'obis') continue;
    const m = /^([1-4])\.8\.([0-6])$/.exec(normalizeObis(r.quantity.code));
    if (!m) continue;
    const group = Number(m[1]);
    const tariff = Number(m[2]);
    const energy = energyTypeOf(group, kind === 'dailyClosure' ? 'previous' : 'current')!;
    const key = `${r.meterSerial}\u0000${group}\u0000${r.timestampMs}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        serialnumber: r.meterSerial,
        t1: null,
        t2: null,
        t3: null,
        t4: null,
        t5: null,
        t6: null,
        tot: null,
        energytype: energy.code,
        energytype_description: energy.description,
        time: r.timestampMs,
      };
      rows.set(key, row);
    }
    row[tariff === 0 ? 'tot' : `t${tariff}`] = valueInCodeUnit(
      r.value,
      r.unit,
      group <= 2 ? WH_CODE : VARH_CODE,
    );
  }
  return [...rows.values()];
}

/** MP_ rows from maximum demand registers (OBIS 1.6.x / 2.6.x), value in the code's unit. */
export function maximumPowerRows(readings: readonly CollectedReading[]): CsvRow[] {
  return readings
    .filter((r) => r.quantity.source === 'obis' && /^[12]\.6\.\d$/.test(normalizeObis(r.quantity.code)))
    .map((r) => {
      const cimcode = readingTypeFor(r.quantity, r.kind);
      return {
        serialnumber: r.meterSerial,
        pod: r.usagePoint ?? '',
        value: valueInCodeUnit(r.value, r.unit, cimcode),
        cimcode,
        time: r.timestampMs,
      };
    });
}
