/**
 * Deterministic randomness for the field simulation: every value is a function of (seed,
 * meter, instant), so the same run can be enumerated again as ground truth without recording.
 */

/** FNV-1a over the parts, as an unsigned 32-bit integer. */
export function hash32(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const text = `${part}|`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  // Final avalanche so neighbouring instants do not give neighbouring values.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) from the parts. */
export function unit(...parts: (string | number)[]): number {
  return hash32(...parts) / 4_294_967_296;
}
