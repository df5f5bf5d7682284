import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCsvTimestamp, parseCsvTimestamp } from '../../adapters/csv/codec.js';

/**
 * formatCsvTimestamp computes the calendar fields by arithmetic instead of building a Date and
 * its ISO string per cell (a third of the CSV encode). Reference: what ECMAScript's
 * Date.prototype.toISOString writes, cut to `yyyy-mm-dd HH:MM:SS.fff`.
 */
function reference(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

function outcome(f: () => string): string {
  try {
    return f();
  } catch (err) {
    return `${(err as Error).name}`;
  }
}

const year0 = -62_167_219_200_000; // 0000-01-01 00:00:00.000
const year10000 = 253_402_300_800_000;
const maxTime = 8.64e15;

describe('formatCsvTimestamp', () => {
  it('writes what Date.toISOString writes, for any instant a Date can hold (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2060, 0, 1) }),
          fc.integer({ min: year0 - 86_400_000, max: year10000 + 86_400_000 }),
          fc.double({ min: -maxTime - 10, max: maxTime + 10, noNaN: true }),
        ),
        (ms) => {
          expect(outcome(() => formatCsvTimestamp(ms))).toBe(outcome(() => reference(ms)));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('gets the edges right: leap days, the epoch, years 0 and 9999, fractions of a ms, out of range', () => {
    const edges = [
      0,
      -1,
      -0,
      0.9,
      -0.9,
      1.7,
      -1.7,
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      Date.UTC(2100, 1, 28, 12),
      Date.UTC(2100, 2, 1),
      Date.UTC(1900, 1, 28, 23, 59, 59, 999),
      Date.UTC(1600, 1, 29),
      year0,
      year0 - 1,
      year10000 - 1,
      year10000,
      maxTime,
      -maxTime,
      maxTime + 1,
    ];
    for (const ms of edges) expect(outcome(() => formatCsvTimestamp(ms))).toBe(outcome(() => reference(ms)));
    expect(formatCsvTimestamp(Date.UTC(2024, 1, 29, 7, 5, 3, 9))).toBe('2024-02-29 07:05:03.009');
    expect(parseCsvTimestamp(formatCsvTimestamp(1_764_000_000_123))).toBe(1_764_000_000_123);
  });
});
