import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hash32, hashPrefix, unit, unitAfter } from '../../actors/simulation/hash.js';
import { utcHourOf } from '../../actors/simulation/meter-model.js';

/**
 * The simulation's hash as first written: FNV-1a over each part's text followed by '|', then
 * an avalanche. Every simulated value (and the ground truth enumerated after a run) depends on
 * it, so the streaming form (integers fed digit by digit, a meter's prefix hashed once) must
 * give exactly these numbers.
 */
function textbook(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const text = `${part}|`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const part = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.maxSafeNat(),
  fc.double({ noNaN: false }),
  fc.constantFrom(0, -0, 1773108000000, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21),
);

describe('simulation hash', () => {
  it('keeps the values the simulation produced before the streaming form (fixed vectors)', () => {
    // Values of the first implementation (session 13 and before).
    expect(hash32(11, 'UAAEEDN00000000001', 'lp', 1773108000000)).toBe(961363996);
    expect(hash32(11, 'UAAEEDN00000000001', 'avg')).toBe(2156792841);
    expect(hash32(0, '', 'q', 0)).toBe(2930846921);
    expect(hash32(7, 'TD-3', 'outage')).toBe(4052356578);
    expect(hash32(11, 'M', 'x', -5)).toBe(1186376353);
    expect(hash32(11, 'M', 1.5)).toBe(2805525752);
  });

  it('hash32 equals FNV-1a over the parts as text, for any strings and numbers', () => {
    fc.assert(
      fc.property(fc.array(part, { maxLength: 6 }), (parts) => {
        expect(hash32(...parts)).toBe(textbook(...parts));
      }),
      { numRuns: 2000 },
    );
  });

  it('feeds integers around every split of their digits the same as their text', () => {
    const edges = [
      0,
      9,
      10,
      99_999_999,
      100_000_000,
      100_000_001,
      2 ** 31 - 1,
      2 ** 31,
      Number.MAX_SAFE_INTEGER,
    ];
    for (let k = 1; k < 90_071_992; k = k * 3 + 1) edges.push(k * 1e8 - 1, k * 1e8, k * 1e8 + 1);
    for (const n of edges) expect(hash32('s', n)).toBe(textbook('s', n));
  });

  it('unitAfter(hashPrefix(seed, serial), tag, at) equals unit(seed, serial, tag, at)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.string(),
        fc.string(),
        fc.option(fc.oneof(fc.maxSafeNat(), fc.integer(), fc.double()), { nil: undefined }),
        (seed, serial, tag, at) => {
          const prefix = hashPrefix(seed, serial);
          const expected = at === undefined ? unit(seed, serial, tag) : unit(seed, serial, tag, at);
          expect(unitAfter(prefix, tag, at)).toBe(expected);
          expect(expected).toBe(
            (at === undefined ? textbook(seed, serial, tag) : textbook(seed, serial, tag, at)) /
              4_294_967_296,
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('utcHourOf', () => {
  it('equals new Date(ms).getUTCHours() for any integer instant in the Date range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        expect(utcHourOf(ms)).toBe(new Date(ms).getUTCHours());
      }),
      { numRuns: 5000 },
    );
    for (const ms of [
      0,
      -1,
      3_599_999,
      3_600_000,
      -3_600_000,
      -86_400_000,
      86_399_999,
      Date.UTC(2026, 2, 29, 1),
    ])
      expect(utcHourOf(ms)).toBe(new Date(ms).getUTCHours());
  });
});
