import type { CollectedReading, ReadingKind } from '../../field-data.js';
import { ModemError } from '../errors.js';
import { printable } from '../identification.js';
import type { DataSet } from './data-sets.js';
import { parseMeterStamp } from './meter-time.js';

/**
 * The OBIS codes this readout understands, in the reduced `C.D.E` form meters print in
 * IEC 62056-21 readouts. Internal names only: the CIM ReadingType of each comes from the
 * single table in adapters/cim/reading-type-map.ts (quantity `{ source: 'obis', code }`).
 */
type RegisterSpec = {
  kind: ReadingKind;
  units: readonly string[];
  description: string;
  /** The value's own time follows in a second bracket, YYMMDDhhmm (maximum demand: when the peak ended). */
  stamped?: true;
};
type MetadataSpec = { kind: 'metadata'; description: string };
type ObisSpec = RegisterSpec | MetadataSpec;

const energyUnits = ['kWh', 'Wh', 'MWh'] as const;
const reactiveUnits = ['kvarh', 'varh', 'kVArh', 'kVarh'] as const;

/** Rates 0 (total) to 9, as far as the CIM table maps tariff bands (ReadingType field 12). */
const rates = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

function tariffRegisters(c: string, units: readonly string[], what: string): Array<[string, ObisSpec]> {
  return rates.map((t) => [
    `${c}.8.${t}`,
    { kind: 'register', units, description: `${what}, ${t === 0 ? 'total' : `tariff ${t}`}` },
  ]);
}

/** `C.6.rate`: the rate's maximum demand, its peak's time in a second bracket. */
function maximumDemandRegisters(c: string, what: string): Array<[string, ObisSpec]> {
  return rates.map((t) => [
    `${c}.6.${t}`,
    {
      kind: 'register',
      units: ['kW', 'W'],
      description: `maximum demand, ${what}, rate ${t}`,
      stamped: true,
    },
  ]);
}

export const knownObis: ReadonlyMap<string, ObisSpec> = new Map<string, ObisSpec>([
  ...tariffRegisters('1', energyUnits, 'active energy import (A+)'),
  ...tariffRegisters('2', energyUnits, 'active energy export (A-)'),
  ...tariffRegisters('3', reactiveUnits, 'reactive energy import (R+)'),
  ...tariffRegisters('4', reactiveUnits, 'reactive energy export (R-)'),
  ...tariffRegisters('15', energyUnits, 'active energy, absolute (|A+| + |A-|)'),
  ...maximumDemandRegisters('1', 'active import'),
  ...maximumDemandRegisters('2', 'active export'),
  ['1.7.0', { kind: 'instantaneous', units: ['kW', 'W'], description: 'active power import' }],
  ['2.7.0', { kind: 'instantaneous', units: ['kW', 'W'], description: 'active power export' }],
  ['14.7.0', { kind: 'instantaneous', units: ['Hz'], description: 'supply frequency' }],
  ['13.7.0', { kind: 'instantaneous', units: [''], description: 'power factor' }],
  ['32.7.0', { kind: 'instantaneous', units: ['V'], description: 'voltage L1' }],
  ['52.7.0', { kind: 'instantaneous', units: ['V'], description: 'voltage L2' }],
  ['72.7.0', { kind: 'instantaneous', units: ['V'], description: 'voltage L3' }],
  ['31.7.0', { kind: 'instantaneous', units: ['A'], description: 'current L1' }],
  ['51.7.0', { kind: 'instantaneous', units: ['A'], description: 'current L2' }],
  ['71.7.0', { kind: 'instantaneous', units: ['A'], description: 'current L3' }],
  ['91.7.0', { kind: 'instantaneous', units: ['A'], description: 'current neutral' }],
  ['0.9.1', { kind: 'metadata', description: 'meter time (hh:mm:ss)' }],
  ['0.9.2', { kind: 'metadata', description: 'meter date (YYMMDD)' }],
  ['0.0.0', { kind: 'metadata', description: 'device address' }],
  ['C.1.0', { kind: 'metadata', description: 'meter serial number' }],
  ['0.2.0', { kind: 'metadata', description: 'firmware version' }],
  ['F.F', { kind: 'metadata', description: 'error register' }],
]);

/**
 * Reduces `1-0:1.8.0*255`, `1.8.0` or `1.8.0*255` to `1.8.0`. A billing-period suffix other
 * than 255 (`*01`, `&01`) names a historic value, which this readout does not map: kept as is
 * so it is reported as unknown rather than mistaken for the current register.
 */
export function normalizeObis(address: string): string {
  const noMedium = address.replace(/^\d{1,3}-\d{1,3}:/, '');
  return noMedium.replace(/\*255$/, '');
}

export type RegisterValue = {
  obis: string;
  value: number;
  unit: string;
  kind: ReadingKind;
  raw: string;
  /** When the value happened, from its time stamp bracket (UTC ms); absent: it holds at the read time. */
  timestampMs?: number;
};

export type InterpretOptions = {
  /** IANA zone of the meter's clock, for time stamps like a maximum demand's (default UTC). */
  meterTimeZone?: string;
};

export type InterpretedReadout = {
  registers: RegisterValue[];
  metadata: Record<string, string>;
  unknownObis: string[];
};

const decimal = /^-?\d{1,15}(\.\d{1,9})?$/;

/**
 * Splits data sets into registers and metadata; collects codes it does not know. A register
 * whose spec is `stamped` (maximum demand) takes its time from the second bracket; a bad
 * stamp, unit or value fails the whole readout (MF_IEC62056_MALFORMED), as the reader never
 * hands over part of one.
 */
export function interpretDataSets(
  sets: readonly DataSet[],
  options: InterpretOptions = {},
): InterpretedReadout {
  const registers: RegisterValue[] = [];
  const metadata: Record<string, string> = {};
  const unknownObis: string[] = [];
  const seen = new Set<string>();
  for (const set of sets) {
    const obis = normalizeObis(set.address);
    const spec = knownObis.get(obis);
    if (!spec) {
      unknownObis.push(set.address);
      continue;
    }
    if (seen.has(obis)) {
      throw new ModemError('MF_IEC62056_MALFORMED', `OBIS ${obis} appears twice in one readout`, { obis });
    }
    seen.add(obis);
    const first = set.values[0]!;
    if (spec.kind === 'metadata') {
      metadata[obis] = first.value;
      continue;
    }
    const unit = first.unit ?? '';
    if (!spec.units.includes(unit)) {
      throw new ModemError(
        'MF_IEC62056_MALFORMED',
        `OBIS ${obis} (${spec.description}) has unit "${printable(unit)}"; expected ${spec.units.map((u) => u || '(none)').join(', ')}`,
        { obis, unit },
      );
    }
    if (!decimal.test(first.value)) {
      throw new ModemError(
        'MF_IEC62056_MALFORMED',
        `OBIS ${obis} value "${printable(first.value)}" is not a number`,
        {
          obis,
        },
      );
    }
    const register: RegisterValue = {
      obis,
      value: Number(first.value),
      unit,
      kind: spec.kind,
      raw: first.value,
    };
    const stamp = spec.stamped ? set.values[1] : undefined;
    if (stamp) {
      const text = stamp.unit === undefined ? stamp.value : `${stamp.value}*${stamp.unit}`;
      const time = parseMeterStamp(text, obis, options.meterTimeZone ?? 'UTC');
      if (time.kind === 'instant') register.timestampMs = time.timestampMs;
    }
    registers.push(register);
  }
  return { registers, metadata, unknownObis };
}

/**
 * Readings for the head-end: one CollectedReading per register, stamped with the register's
 * own time where the meter printed one (a maximum demand's peak), else with the read time.
 */
export function toCollectedReadings(
  meterSerial: string,
  registers: readonly RegisterValue[],
  timestampMs: number,
): CollectedReading[] {
  return registers.map((r) => ({
    meterSerial,
    kind: r.kind,
    quantity: { source: 'obis', code: r.obis },
    value: r.value,
    unit: r.unit,
    timestampMs: r.timestampMs ?? timestampMs,
  }));
}
