import type { BatteryQuantity, InternalQuantity, ReadingKind } from '../field-data.js';
import { UnknownQuantityError } from './errors.js';
import {
  formatReadingType,
  type ReadingTypeCode,
  type ReadingTypeFields,
  readingTypeOf,
} from './reading-type.js';
import { measuringPeriodSeconds } from './reading-type-names.js';

/**
 * THE mapping table from internal quantities (OBIS codes, KNX DPTs, battery quantities,
 * load-profile intervals) to CIM ReadingType codes. No other module carries CIM codes.
 *
 * Two profiles:
 * - `standard`: codes valid against the IEC 61968-9 enumerations (ami-cim.md (b)).
 * - `seed-compat`: reproduces the strings the SMMePlus seed itself emits (§2.5.1.2), for
 *   integrators who match on them: daily closures `0.0.16.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0`
 *   (total) and `0.0.16.9.1.1.12.0.0.0.0.<T>.0.0.0.0.72.0` (tariff T), and the hourly import
 *   load profile `0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0`. These seed codes are in Wh. Quantities
 *   the seed never shows fall back to the standard code.
 *
 * The code fixes the unit and multiplier; `valueInCodeUnit` converts a measured value into it
 * (a meter reading 14631.051 kWh becomes 14631051 under a Wh code).
 */
export type { ReadingTypeCode } from './reading-type.js';
export type ReadingTypeProfile = 'standard' | 'seed-compat';
export type ReadingTypeOptions = {
  /** Interval length of kind 'interval' readings; default 3600 s (the seed's hourly profile). */
  intervalSeconds?: number;
};

/** What a quantity measures, independent of how it is read (register, interval, ...). */
type Measure = {
  /** Cumulative energy registers; everything else is an instantaneous or indicating value. */
  energy: boolean;
  flowDirection: number;
  commodity: number;
  measurementKind: number;
  aggregate?: number;
  accumulation?: number;
  tou?: number;
  phases?: number;
  /** ISO 4217 numeric code for money values (payment metering); 0 otherwise. */
  currency?: number;
  multiplier: number;
  unit: number;
};

const ELECTRICITY = 1;
const FORWARD = 1;
const REVERSE = 19;
const TOTAL = 20;
const KIND = {
  current: 4,
  demand: 8,
  energy: 12,
  frequency: 15,
  power: 37,
  powerFactor: 38,
  temperature: 46,
};
const KIND_RMS_VOLTAGE = 54;
/** MeasurementKind 3 = currency (IEC 61968-9 enumeration: none 0, ..., apparentPowerFactor 2, currency 3, current 4). */
const KIND_CURRENCY = 3;
const EUR = 978;
const AGGREGATE_SUM = 26;
const KIND_VOLTAGE = 158;
const UNIT = { A: 5, degC: 23, V: 29, Hz: 33, W: 38, cosPhi: 65, VAh: 71, Wh: 72, VArh: 73, none: 0 };
const PHASE_AN = 128 + 16;
const PHASE_BN = 64 + 16;
const PHASE_CN = 32 + 16;

function energyMeasure(flowDirection: number, unit: number, multiplier: number, tou = 0): Measure {
  return {
    energy: true,
    flowDirection,
    commodity: ELECTRICITY,
    measurementKind: KIND.energy,
    tou,
    multiplier,
    unit,
  };
}

function instant(
  measurementKind: number,
  unit: number,
  multiplier: number,
  extra: Partial<Measure> = {},
): Measure {
  return {
    energy: false,
    flowDirection: 0,
    commodity: ELECTRICITY,
    measurementKind,
    multiplier,
    unit,
    ...extra,
  };
}

/** OBIS C.D.E (value group C, D, E) -> measure. Registers from IEC 62056-21 readouts are kWh/kW. */
function obisMeasure(code: string): Measure | string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(code);
  if (!m) return `OBIS code "${code}" is not of the form C.D.E`;
  const c = Number(m[1]);
  const d = Number(m[2]);
  const e = Number(m[3]);
  if (c === 0 && d === 9) return `OBIS ${code} is the meter's ${e === 1 ? 'time' : 'date'}, not a reading`;
  if (d === 8 && e <= 9) {
    if (c === 1) return energyMeasure(FORWARD, UNIT.Wh, 3, e);
    if (c === 2) return energyMeasure(REVERSE, UNIT.Wh, 3, e);
    if (c === 3) return energyMeasure(FORWARD, UNIT.VArh, 3, e);
    if (c === 4) return energyMeasure(REVERSE, UNIT.VArh, 3, e);
    if (c === 15) return energyMeasure(TOTAL, UNIT.Wh, 3, e);
  }
  if (d === 7 && e === 0) {
    if (c === 1) return instant(KIND.power, UNIT.W, 3, { flowDirection: FORWARD });
    if (c === 2) return instant(KIND.power, UNIT.W, 3, { flowDirection: REVERSE });
    if (c === 14) return instant(KIND.frequency, UNIT.Hz, 0);
    if (c === 13) return instant(KIND.powerFactor, UNIT.cosPhi, 0);
    if (c === 32) return instant(KIND_RMS_VOLTAGE, UNIT.V, 0, { phases: PHASE_AN });
    if (c === 52) return instant(KIND_RMS_VOLTAGE, UNIT.V, 0, { phases: PHASE_BN });
    if (c === 72) return instant(KIND_RMS_VOLTAGE, UNIT.V, 0, { phases: PHASE_CN });
    if (c === 31) return instant(KIND.current, UNIT.A, 0, { phases: 128 });
    if (c === 51) return instant(KIND.current, UNIT.A, 0, { phases: 64 });
    if (c === 71) return instant(KIND.current, UNIT.A, 0, { phases: 32 });
    if (c === 91) return instant(KIND.current, UNIT.A, 0, { phases: 16 });
  }
  if (d === 6 && e <= 9 && (c === 1 || c === 2))
    // Maximum demand registers (MP_ files): the highest average power of the billing period.
    return instant(KIND.demand, UNIT.W, 3, {
      flowDirection: c === 1 ? FORWARD : REVERSE,
      aggregate: 8,
      accumulation: 6,
      tou: e,
    });
  if (c === 19 && e === 0 && (d === 0 || d === 10 || d === 20)) return paymentMeasure(d);
  return `OBIS ${code} has no CIM ReadingType in adapters/cim/reading-type-map.ts`;
}

/**
 * Payment-metering registers (OBIS C = 19, PP_ files), in euro (currency field 978, unit none,
 * multiplier 0): 19.10.0 import credit, the balance left (instantaneous, forward); 19.0.0 the
 * account's available credit, the sum of its credits (aggregate sum); 19.20.0 the charge, the
 * amount collected so far (a cumulative register, bulkQuantity). Other credits and charges
 * (E = 1..9) have no code of their own here: the 18 fields cannot tell them apart.
 */
function paymentMeasure(d: number): Measure {
  const money = { flowDirection: FORWARD, currency: EUR };
  if (d === 10) return instant(KIND_CURRENCY, UNIT.none, 0, { ...money, accumulation: 12 });
  if (d === 0)
    return instant(KIND_CURRENCY, UNIT.none, 0, { ...money, aggregate: AGGREGATE_SUM, accumulation: 12 });
  return instant(KIND_CURRENCY, UNIT.none, 0, { ...money, accumulation: 1 });
}

/** OBIS as adapters write it: '1.8.0', '1-0:1.8.0', '1-0:1.8.0*255', '1.8.0&01' all become '1.8.0'. */
export function normalizeObis(code: string): string {
  return code
    .trim()
    .replace(/^\d+-\d+:/, '')
    .replace(/[*&]\d+$/, '');
}

function knxDirection(quantity: string | undefined): number {
  return quantity === 'export' ? REVERSE : FORWARD;
}

function knxPhases(quantity: string | undefined): number {
  if (quantity === 'L1') return PHASE_AN;
  if (quantity === 'L2') return PHASE_BN;
  if (quantity === 'L3') return PHASE_CN;
  return 0;
}

/** KNX datapoint types used for metering (KNX Standard 3.7.2; see ../shared/reference/knx.md). */
function knxMeasure(dpt: string, quantity: string | undefined): Measure | string {
  const dir = knxDirection(quantity);
  switch (dpt) {
    case '13.010':
      return energyMeasure(dir, UNIT.Wh, 0);
    case '13.013':
      return energyMeasure(dir, UNIT.Wh, 3);
    case '13.011':
      return energyMeasure(dir, UNIT.VAh, 0);
    case '13.014':
      return energyMeasure(dir, UNIT.VAh, 3);
    case '13.012':
      return energyMeasure(dir, UNIT.VArh, 0);
    case '13.015':
      return energyMeasure(dir, UNIT.VArh, 3);
    case '14.056':
      return instant(KIND.power, UNIT.W, 0, { flowDirection: dir });
    case '9.024':
      return instant(KIND.power, UNIT.W, 3, { flowDirection: dir });
    case '14.027':
      return instant(KIND_VOLTAGE, UNIT.V, 0, { phases: knxPhases(quantity) });
    case '9.020':
      return instant(KIND_VOLTAGE, UNIT.V, -3, { phases: knxPhases(quantity) });
    case '14.019':
      return instant(KIND.current, UNIT.A, 0, { phases: knxPhases(quantity) });
    case '9.021':
      return instant(KIND.current, UNIT.A, -3, { phases: knxPhases(quantity) });
    case '14.033':
      return instant(KIND.frequency, UNIT.Hz, 0);
    case '14.057':
      return instant(KIND.powerFactor, UNIT.cosPhi, 0);
    case '9.001':
      return instant(KIND.temperature, UNIT.degC, 0, { commodity: 0 });
    default:
      return `KNX DPT ${dpt} has no CIM ReadingType in adapters/cim/reading-type-map.ts`;
  }
}

/**
 * Battery quantities. IEC 61968-9 has no state-of-charge/health kind: both are dimensionless
 * values x10^-2 (percent); SoC is instantaneous (12), SoH indicating (6), so the codes differ.
 * Charged energy flows into the pack (forward), discharged out of it (reverse).
 */
const batteryMeasures: Record<BatteryQuantity, Measure> = {
  voltage: instant(KIND_VOLTAGE, UNIT.V, 0),
  current: instant(KIND.current, UNIT.A, 0),
  stateOfCharge: instant(0, UNIT.none, -2, { accumulation: 12 }),
  stateOfHealth: instant(0, UNIT.none, -2, { accumulation: 6 }),
  temperature: instant(KIND.temperature, UNIT.degC, 0),
  chargedEnergy: energyMeasure(FORWARD, UNIT.Wh, 3),
  dischargedEnergy: energyMeasure(REVERSE, UNIT.Wh, 3),
  chargeVoltageLimit: instant(KIND_VOLTAGE, UNIT.V, 0, { aggregate: 8, accumulation: 6 }),
  chargeCurrentLimit: instant(KIND.current, UNIT.A, 0, {
    aggregate: 8,
    accumulation: 6,
    flowDirection: FORWARD,
  }),
  dischargeCurrentLimit: instant(KIND.current, UNIT.A, 0, {
    aggregate: 8,
    accumulation: 6,
    flowDirection: REVERSE,
  }),
};

/** Every battery quantity the table maps, for the reverse lookup and property tests. */
export const batteryQuantities = Object.keys(batteryMeasures) as BatteryQuantity[];

function measureFor(q: InternalQuantity): Measure {
  let result: Measure | string;
  switch (q.source) {
    case 'obis':
      result = obisMeasure(normalizeObis(q.code));
      break;
    case 'knx':
      result = knxMeasure(q.dpt, q.quantity);
      break;
    case 'battery':
      result = batteryMeasures[q.quantity] ?? `battery quantity "${String(q.quantity)}" is not known`;
      break;
    case 'profile':
      if (q.quantity === 'activeImportInterval') result = energyMeasure(FORWARD, UNIT.Wh, 0);
      else if (q.quantity === 'activeExportInterval') result = energyMeasure(REVERSE, UNIT.Wh, 0);
      else result = `load-profile quantity "${String(q.quantity)}" is not known`;
      break;
    default:
      result = `quantity source "${String((q as { source: unknown }).source)}" is not known`;
  }
  if (typeof result === 'string') throw new UnknownQuantityError(result, { quantity: q });
  return result;
}

function measuringPeriodCode(intervalSeconds: number): number {
  for (const [code, seconds] of measuringPeriodSeconds) if (seconds === intervalSeconds) return code;
  throw new UnknownQuantityError(
    `an interval of ${intervalSeconds} s has no CIM measuring period (1, 5, 10, 15, 30, 60 min or 24 h)`,
    { intervalSeconds },
  );
}

function standardFields(m: Measure, kind: ReadingKind, options: ReadingTypeOptions): ReadingTypeFields {
  const base: Partial<ReadingTypeFields> = {
    aggregate: m.aggregate ?? 0,
    flowDirection: m.flowDirection,
    commodity: m.commodity,
    measurementKind: m.measurementKind,
    tou: m.tou ?? 0,
    phases: m.phases ?? 0,
    multiplier: m.multiplier,
    unit: m.unit,
    currency: m.currency ?? 0,
  };
  if (kind === 'interval') {
    const mp = measuringPeriodCode(options.intervalSeconds ?? 3600);
    if (m.energy) return readingTypeOf({ ...base, measuringPeriod: mp, accumulation: 4 });
    return readingTypeOf({ ...base, aggregate: m.aggregate ?? 2, measuringPeriod: mp, accumulation: 12 });
  }
  const accumulation = m.energy ? 1 : (m.accumulation ?? 12);
  return readingTypeOf({ ...base, macroPeriod: kind === 'dailyClosure' ? 11 : 0, accumulation });
}

const seedDailyClosureTotal = '0.0.16.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0';

function seedCompatCode(
  q: InternalQuantity,
  kind: ReadingKind,
  options: ReadingTypeOptions,
): string | undefined {
  if (q.source === 'obis' && kind === 'dailyClosure') {
    const m = /^1\.8\.(\d)$/.exec(normalizeObis(q.code));
    if (!m) return undefined;
    const tariff = Number(m[1]);
    if (tariff === 0) return seedDailyClosureTotal;
    if (tariff <= 6) return `0.0.16.9.1.1.12.0.0.0.0.${tariff}.0.0.0.0.72.0`;
    return undefined;
  }
  if (q.source === 'profile' && q.quantity === 'activeImportInterval' && kind === 'interval') {
    if ((options.intervalSeconds ?? 3600) === 3600) return '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0';
  }
  return undefined;
}

/**
 * The ReadingType code for a quantity read as `kind`. Throws `MF_UNKNOWN_QUANTITY` for
 * quantities without a code (including OBIS 0.9.1/0.9.2, which are the meter's clock).
 */
export function readingTypeFor(
  q: InternalQuantity,
  kind: ReadingKind,
  profile: ReadingTypeProfile = 'standard',
  options: ReadingTypeOptions = {},
): ReadingTypeCode {
  // Encoders ask this once per reading; the answer depends only on these few fields.
  const key = `${q.source}|${'code' in q ? q.code : ''}|${'dpt' in q ? q.dpt : ''}|${'quantity' in q ? q.quantity : ''}|${kind}|${profile}|${options.intervalSeconds ?? ''}`;
  const cached = codeCache.get(key);
  if (cached !== undefined) return cached;
  const code = computeReadingType(q, kind, profile, options);
  if (codeCache.size >= maxCachedCodes) codeCache.clear();
  codeCache.set(key, code);
  return code;
}

const maxCachedCodes = 4096;
const codeCache = new Map<string, ReadingTypeCode>();

function computeReadingType(
  q: InternalQuantity,
  kind: ReadingKind,
  profile: ReadingTypeProfile,
  options: ReadingTypeOptions,
): ReadingTypeCode {
  const measure = measureFor(q);
  if (profile === 'seed-compat') {
    const seed = seedCompatCode(q, kind, options);
    if (seed !== undefined) return seed;
  }
  return formatReadingType(standardFields(measure, kind, options));
}

/** Seed strings that are not even 18 fields, seen in the seed's load-profile example: accepted on input only. */
const seedTypos: ReadonlyMap<string, string> = new Map([
  ['0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.0.72.0', '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0'],
]);

/** On input: maps a known seed typo to the code it meant; any other string is returned unchanged. */
export function repairSeedReadingType(code: string): string {
  return seedTypos.get(code.trim()) ?? code.trim();
}

export {
  intervalChoicesSeconds,
  knownQuantities,
  type QuantityMatch,
  quantityForReadingType,
  readingKinds,
} from './reading-type-reverse.js';
export { unitOfCode, valueInCodeUnit } from './reading-type-units.js';
