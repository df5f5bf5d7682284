/**
 * Deterministic randomness for the field simulation: every value is a function of (seed,
 * meter, instant), so the same run can be enumerated again as ground truth without recording.
 *
 * FNV-1a runs over the parts' text, each followed by '|'. It is a stream, so a meter model
 * hashes its (seed, serial) prefix once (`hashPrefix`) and each value continues from there
 * (`unitAfter`); integers are fed digit by digit rather than turned into strings first. Both
 * give exactly the values of `hash32` over the whole list (test/simulation/hash.test.ts): the
 * per-value hashing was 9% of the bench driver's CPU (actors/host/README.md).
 */

const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;
const separator = 0x7c; // '|'
/** Decimal digits of one integer, least significant first (a safe integer has at most 16). */
const digits = new Uint8Array(20);

function mixText(state: number, text: string): number {
  let h = state;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, fnvPrime);
  }
  return h;
}

/**
 * Writes the digits of `n` (an integer in [0, 2^31)) into `digits` from `count` on, least
 * significant first, padded with zeros to `minDigits`; returns the new count. Int32
 * arithmetic: a double's `%` per digit was most of the hash's cost.
 */
function smallDigits(n: number, count: number, minDigits: number): number {
  let rest = n;
  let at = count;
  do {
    const quotient = (rest / 10) | 0;
    digits[at++] = 48 + rest - quotient * 10;
    rest = quotient;
  } while (rest > 0);
  while (at - count < minDigits) digits[at++] = 48;
  return at;
}

/** `mixText(state, `${part}|`)` without building the text for a non-negative safe integer. */
function mixPart(state: number, part: string | number): number {
  let h = state;
  if (typeof part === 'number' && part >= 0 && Number.isSafeInteger(part)) {
    let count: number;
    if (part < 1e8) count = smallDigits(part, 0, 0);
    else {
      // Eight low digits, then the rest (< 2^27): each part fits int32 arithmetic.
      let high = Math.floor(part / 1e8);
      let low = part - high * 1e8;
      if (low < 0) {
        high -= 1;
        low += 1e8;
      } else if (low >= 1e8) {
        high += 1;
        low -= 1e8;
      }
      count = smallDigits(high, smallDigits(low, 0, 8), 0);
    }
    while (count > 0) {
      h ^= digits[--count]!;
      h = Math.imul(h, fnvPrime);
    }
  } else h = mixText(h, String(part));
  h ^= separator;
  return Math.imul(h, fnvPrime);
}

/** Final avalanche so neighbouring instants do not give neighbouring values. */
function avalanche(state: number): number {
  let h = state;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the parts, as an unsigned 32-bit integer. */
export function hash32(...parts: (string | number)[]): number {
  let h = fnvOffset;
  for (const part of parts) h = mixPart(h, part);
  return avalanche(h);
}

/** A uniform number in [0, 1) from the parts. */
export function unit(...parts: (string | number)[]): number {
  return hash32(...parts) / 4_294_967_296;
}

/** The hash's state after `parts` (e.g. seed and serial), for `unitAfter`. */
export type HashPrefix = { readonly state: number };

export function hashPrefix(...parts: (string | number)[]): HashPrefix {
  let h = fnvOffset;
  for (const part of parts) h = mixPart(h, part);
  return { state: h };
}

/** `unit(...prefixParts, tag, at)` from the prefix's state: the same number. */
export function unitAfter(prefix: HashPrefix, tag: string, at?: number): number {
  let h = mixPart(prefix.state, tag);
  if (at !== undefined) h = mixPart(h, at);
  return avalanche(h) / 4_294_967_296;
}
