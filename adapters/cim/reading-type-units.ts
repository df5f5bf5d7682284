import { CimCodeError } from './errors.js';
import { type ReadingTypeCode, readingTypeFieldsOf } from './reading-type.js';
import { multiplierPrefixes, unitNames } from './reading-type-names.js';

/**
 * Values and ReadingType units: a code fixes unit (field 17) and multiplier (field 16);
 * `valueInCodeUnit` converts a measured value into them, `unitOfCode` names them.
 */
const UNIT = { A: 5, degC: 23, V: 29, Hz: 33, W: 38, cosPhi: 65, VAh: 71, Wh: 72, VArh: 73, none: 0 };

type UnitSpec = { base: number; exponent: number };

const unitSymbols: ReadonlyMap<string, number> = new Map([
  ['Wh', UNIT.Wh],
  ['VAh', UNIT.VAh],
  ['VArh', UNIT.VArh],
  ['varh', UNIT.VArh],
  ['W', UNIT.W],
  ['V', UNIT.V],
  ['A', UNIT.A],
  ['Hz', UNIT.Hz],
  ['degC', UNIT.degC],
  ['°C', UNIT.degC],
  ['C', UNIT.degC],
  ['cos', UNIT.cosPhi],
  ['', UNIT.none],
]);

function parseUnit(unit: string): UnitSpec {
  const u = unit.trim();
  if (u === '%') return { base: UNIT.none, exponent: -2 };
  if (unitSymbols.has(u)) return { base: unitSymbols.get(u)!, exponent: 0 };
  const prefix = u[0]!;
  const rest = u.slice(1);
  const exponent =
    prefix === 'k' ? 3 : prefix === 'M' ? 6 : prefix === 'G' ? 9 : prefix === 'm' ? -3 : undefined;
  if (exponent !== undefined && unitSymbols.has(rest) && rest !== '')
    return { base: unitSymbols.get(rest)!, exponent };
  throw new CimCodeError(`unit "${unit}" is not known; use Wh, kWh, W, kW, V, A, Hz, degC or %`, { unit });
}

/** ISO 4217 currencies a payment-metering register may be read in (alphabetic -> numeric, ReadingType field 18). */
const currencies: ReadonlyMap<string, number> = new Map([
  ['EUR', 978],
  ['GBP', 826],
  ['CHF', 756],
  ['USD', 840],
]);

// Unit strings come from a handful of adapters; unknown ones throw before being cached.
const unitCache = new Map<string, UnitSpec>();

/** Rounds away binary noise (14631.051 * 1000 = 14631050.999999998) without losing real digits. */
function clean(n: number): number {
  return Number(n.toPrecision(15));
}

/** Converts a measured value (in `unit`) into the unit and multiplier that `code` states. */
export function valueInCodeUnit(value: number, unit: string, code: ReadingTypeCode): number {
  return clean(value * codeUnitScale(unit, code));
}

/**
 * The factor `valueInCodeUnit` multiplies by (it depends on the unit and code only), so a
 * batch encoder checks a reading type once and scales each value with `scaleToCodeUnit`.
 * Throws like `valueInCodeUnit` for a unit or currency the code cannot carry.
 */
export function codeUnitScale(unit: string, code: ReadingTypeCode): number {
  const f = readingTypeFieldsOf(code);
  const currency = currencies.get(unit.trim());
  if (currency !== undefined || f.currency !== 0) {
    // Money: the code's currency field must be the value's currency; no unit conversion.
    if (currency !== f.currency)
      throw new CimCodeError(
        `a value in ${unit} cannot be reported under ReadingType ${code}, whose currency is ${f.currency === 0 ? 'none' : `ISO 4217 ${f.currency}`}`,
        { unit, code },
      );
    return 10 ** -f.multiplier;
  }
  let from = unitCache.get(unit);
  if (!from) {
    from = parseUnit(unit);
    unitCache.set(unit, from);
  }
  if (from.base !== f.unit)
    throw new CimCodeError(
      `a value in ${unit} cannot be reported under ReadingType ${code}, whose unit is ${unitNames.get(f.unit) ?? f.unit}`,
      { unit, code },
    );
  return 10 ** (from.exponent - f.multiplier);
}

/**
 * `valueInCodeUnit` with the scale already known: the same number. An integer product below
 * 1e15 has at most 15 digits, so `clean` would return it unchanged; skipping it there saves
 * a string per value (most meter values are integers in Wh).
 */
export function scaleToCodeUnit(value: number, scale: number): number {
  const x = value * scale;
  return Number.isInteger(x) && x < 1e15 && x > -1e15 ? x : clean(x);
}

/** The unit symbol a code's value is expressed in, e.g. 'kWh' for multiplier 3 + unit 72. */
export function unitOfCode(code: ReadingTypeCode): string {
  const f = readingTypeFieldsOf(code);
  if (f.currency !== 0 && f.multiplier === 0)
    return [...currencies].find(([, n]) => n === f.currency)?.[0] ?? `ISO 4217 ${f.currency}`;
  if (f.unit === UNIT.none && f.multiplier === -2) return '%';
  const prefix = multiplierPrefixes.get(f.multiplier);
  const symbol = f.unit === UNIT.none ? '' : (unitNames.get(f.unit) ?? `unit${f.unit}`);
  if (prefix === undefined || prefix === 'c') return `1e${f.multiplier} ${symbol}`.trim();
  return `${prefix}${f.unit === UNIT.cosPhi ? 'cos' : symbol}`;
}
