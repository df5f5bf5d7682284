import { ForwardedReadings } from './forwarded-readings.js';

/**
 * `JSON.stringify(value).length` without building the string. The driver sizes every delivery
 * against its plain-JSON budgets (delivery-parts.ts, actor-lanes.ts): stringifying each
 * command only to count it was 15% of the driver's CPU per reading, and the strings it built
 * fed the garbage collector (bench/headend-cluster.bench.ts profile, session 14). Walking the
 * value counts the same characters without allocating, except for the rare string that needs
 * escaping and non-integer numbers, which are measured through `JSON.stringify`/`String`.
 * Exact for every JSON-able value (test/headend/json-length.test.ts compares it with
 * `JSON.stringify` on arbitrary values); values with `toJSON` (a Date) are stringified.
 * Undefined for what `JSON.stringify` gives undefined (undefined, a function, a symbol).
 */

/** Characters JSON escapes: quote, backslash, control characters, lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what JSON escapes
const needsEscape = /["\\\u0000-\u001f\ud800-\udfff]/;
/** Object keys repeat (the same record shape thousands of times): their JSON lengths, cached. */
const keyLengths = new Map<string, number>();
const maxCachedKeys = 4096;

function stringLength(text: string): number {
  return needsEscape.test(text) ? JSON.stringify(text).length : text.length + 2;
}

function keyLength(key: string): number {
  let length = keyLengths.get(key);
  if (length === undefined) {
    length = stringLength(key);
    if (keyLengths.size < maxCachedKeys) keyLengths.set(key, length);
  }
  return length;
}

function numberLength(n: number): number {
  if (!Number.isFinite(n)) return 4; // null
  if (!Number.isSafeInteger(n)) return String(n).length;
  let length = n < 0 ? 2 : 1;
  let rest = Math.abs(n);
  // Eight digits at once (an instant in ms has 13), then int32 arithmetic for the rest: the
  // quotient of a safe integer by 1e8 is below 2^27 and never rounds up to the next integer.
  if (rest >= 1e8) {
    rest = Math.floor(rest / 1e8);
    length += 8;
  }
  while (rest >= 10) {
    rest = (rest / 10) | 0;
    length++;
  }
  return length;
}

export function jsonLength(value: unknown): number | undefined {
  switch (typeof value) {
    case 'string':
      return stringLength(value);
    case 'number':
      return numberLength(value);
    case 'boolean':
      return value ? 4 : 5;
    case 'object':
      return value === null ? 4 : objectLength(value);
    case 'bigint':
      // JSON.stringify throws on a BigInt: so does this.
      return JSON.stringify(value).length;
    default:
      return undefined; // undefined, a function, a symbol
  }
}

function objectLength(value: object): number | undefined {
  if (Array.isArray(value)) {
    let length = value.length > 0 ? value.length + 1 : 2; // brackets and commas
    // An item JSON.stringify cannot give (undefined, a function) is `null` in an array.
    for (let i = 0; i < value.length; i++) length += jsonLength(value[i]) ?? 4;
    return length;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    // A device's readings passed on packed (forwarded-readings.ts): the plain length they stand for.
    if (value instanceof ForwardedReadings) return value.plainBytes;
    return JSON.stringify(value)?.length;
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean)
    return JSON.stringify(value)?.length;
  let length = 2;
  let members = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = jsonLength((value as Record<string, unknown>)[key]);
    if (item === undefined) continue; // skipped, as JSON.stringify skips it
    length += keyLength(key) + 1 + item;
    members++;
  }
  return members > 1 ? length + members - 1 : length;
}
