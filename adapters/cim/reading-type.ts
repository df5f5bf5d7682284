import { CimCodeError } from './errors.js';
import {
  accumulationNames,
  aggregateNames,
  commodityNames,
  flowDirectionNames,
  macroPeriodNames,
  measurementKindNames,
  measuringPeriodNames,
  multiplierPrefixes,
  phaseBits,
  unitNames,
} from './reading-type-names.js';

/**
 * IEC 61968-9 ReadingType as a value type: the 18 dot-separated numeric fields of a
 * ReadingType mRID (`macroPeriod.aggregate.measuringPeriod.accumulation.flowDirection.
 * commodity.measurementKind.ihNum.ihDen.argNum.argDen.tou.cpp.tier.phases.multiplier.unit.
 * currency`). Pure: parse, format, describe.
 */
export type ReadingTypeCode = string;

export type ReadingTypeFields = {
  macroPeriod: number;
  aggregate: number;
  measuringPeriod: number;
  accumulation: number;
  flowDirection: number;
  commodity: number;
  measurementKind: number;
  interharmonicNumerator: number;
  interharmonicDenominator: number;
  argumentNumerator: number;
  argumentDenominator: number;
  tou: number;
  cpp: number;
  consumptionTier: number;
  phases: number;
  multiplier: number;
  unit: number;
  currency: number;
};

export const readingTypeFieldOrder: readonly (keyof ReadingTypeFields)[] = [
  'macroPeriod',
  'aggregate',
  'measuringPeriod',
  'accumulation',
  'flowDirection',
  'commodity',
  'measurementKind',
  'interharmonicNumerator',
  'interharmonicDenominator',
  'argumentNumerator',
  'argumentDenominator',
  'tou',
  'cpp',
  'consumptionTier',
  'phases',
  'multiplier',
  'unit',
  'currency',
];

/** Longest code we accept: 18 fields of a few digits; anything longer is not a ReadingType. */
const maxCodeChars = 128;
const fieldPattern = /^-?\d{1,6}$/;

const maxCachedFields = 4096;
const fieldsCache = new Map<string, Readonly<ReadingTypeFields>>();

/** Parses an 18-field code; throws MF_CIM_CODE naming the first bad field. */
export function parseReadingType(code: string): ReadingTypeFields {
  return { ...readingTypeFieldsOf(code) };
}

/** Like parseReadingType but returns a shared, frozen result: for hot paths that only read it. */
export function readingTypeFieldsOf(code: string): Readonly<ReadingTypeFields> {
  const cached = fieldsCache.get(code);
  if (cached) return cached;
  const fields = Object.freeze(parseUncached(code));
  if (fieldsCache.size >= maxCachedFields) fieldsCache.clear();
  fieldsCache.set(code, fields);
  return fields;
}

function parseUncached(code: string): ReadingTypeFields {
  if (code.length > maxCodeChars)
    throw new CimCodeError(
      `ReadingType code is ${code.length} characters long; at most ${maxCodeChars} expected`,
      {
        code: code.slice(0, maxCodeChars),
      },
    );
  const parts = code.trim().split('.');
  if (parts.length !== 18)
    throw new CimCodeError(
      `ReadingType code "${code}" has ${parts.length} fields; a ReadingType has exactly 18 dot-separated numbers`,
      { code, fields: parts.length },
    );
  const values: number[] = [];
  parts.forEach((part, i) => {
    if (!fieldPattern.test(part))
      throw new CimCodeError(
        `ReadingType code "${code}": field ${i + 1} (${readingTypeFieldOrder[i]}) is "${part}", not an integer`,
        { code, field: i + 1 },
      );
    // Only the multiplier (a power of ten) may be negative.
    if (part.startsWith('-') && readingTypeFieldOrder[i] !== 'multiplier')
      throw new CimCodeError(
        `ReadingType code "${code}": field ${i + 1} (${readingTypeFieldOrder[i]}) is negative; only the multiplier may be`,
        { code, field: i + 1 },
      );
    values.push(Number(part));
  });
  const fields = {} as ReadingTypeFields;
  readingTypeFieldOrder.forEach((name, i) => {
    fields[name] = values[i]!;
  });
  return fields;
}

export function formatReadingType(fields: ReadingTypeFields): ReadingTypeCode {
  return readingTypeFieldOrder.map((name) => String(fields[name])).join('.');
}

export function isReadingTypeCode(code: string): boolean {
  try {
    parseReadingType(code);
    return true;
  } catch {
    return false;
  }
}

/** The neutral fields: every field 0 except those given. */
export function readingTypeOf(partial: Partial<ReadingTypeFields>): ReadingTypeFields {
  const fields = {} as ReadingTypeFields;
  for (const name of readingTypeFieldOrder) fields[name] = partial[name] ?? 0;
  return fields;
}

function named(table: ReadonlyMap<number, string>, value: number): string {
  return table.get(value) ?? `unknown code ${value}`;
}

function phasesInWords(mask: number): string {
  if (mask === 0) return 'no phase';
  const names = phaseBits.filter(([bit]) => (mask & bit) !== 0).map(([, name]) => name);
  return `phases ${names.join('')}`;
}

export type ReadingTypeDescription = {
  code: ReadingTypeCode;
  words: string;
  fields: ReadingTypeFields;
  named: Record<string, string>;
  /** Field values this module does not know; a code with any is suspect (e.g. the seed's 0.0.16.1.1.12...). */
  unknownFields: string[];
};

/** Describes a code in words, for logs and the CLI (`meterfabric cim readingtype`). */
export function describeReadingType(code: string): ReadingTypeDescription {
  const f = parseReadingType(code);
  const prefix = multiplierPrefixes.get(f.multiplier);
  const unitName = named(unitNames, f.unit);
  const namedFields: Record<string, string> = {
    macroPeriod: named(macroPeriodNames, f.macroPeriod),
    aggregate: named(aggregateNames, f.aggregate),
    measuringPeriod: named(measuringPeriodNames, f.measuringPeriod),
    accumulation: named(accumulationNames, f.accumulation),
    flowDirection: named(flowDirectionNames, f.flowDirection),
    commodity: named(commodityNames, f.commodity),
    measurementKind: named(measurementKindNames, f.measurementKind),
    tou: f.tou === 0 ? 'no time of use' : `tariff band ${f.tou}`,
    phases: phasesInWords(f.phases),
    multiplier: prefix === undefined ? `x10^${f.multiplier}` : prefix === '' ? 'x1' : prefix,
    unit: unitName,
    currency: f.currency === 0 ? 'no currency' : `ISO 4217 ${f.currency}`,
  };
  const unknownFields = Object.entries(namedFields)
    .filter(([, v]) => v.startsWith('unknown code'))
    .map(([k]) => k);
  const parts = [
    f.macroPeriod !== 0 ? namedFields.macroPeriod : '',
    f.aggregate !== 0 ? namedFields.aggregate : '',
    f.measuringPeriod !== 0 ? `${namedFields.measuringPeriod} interval` : '',
    namedFields.accumulation,
    f.flowDirection !== 0 ? namedFields.flowDirection : '',
    namedFields.commodity,
    namedFields.measurementKind,
    f.tou !== 0 ? namedFields.tou : '',
    f.phases !== 0 ? namedFields.phases : '',
    `in ${prefix ?? `10^${f.multiplier} `}${unitName}`,
  ].filter((p) => p !== '');
  return {
    code: formatReadingType(f),
    words: parts.join(', '),
    fields: f,
    named: namedFields,
    unknownFields,
  };
}
