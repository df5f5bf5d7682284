import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { instantsOfWallClock, wallClock, zonedFormatter } from '../../core/zoned-time.js';

const wallAsUtc = (ms: number, zone: string): number => {
  const w = wallClock(ms, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
};

describe('instantsOfWallClock', () => {
  it('finds the one instant of an ordinary wall time', () => {
    // Rome in August is UTC+2, in November UTC+1.
    expect(instantsOfWallClock(Date.UTC(2026, 7, 9, 18, 45), 'Europe/Rome')).toEqual([
      Date.UTC(2026, 7, 9, 16, 45),
    ]);
    expect(instantsOfWallClock(Date.UTC(2026, 10, 23, 14, 15), 'Europe/Rome')).toEqual([
      Date.UTC(2026, 10, 23, 13, 15),
    ]);
    expect(instantsOfWallClock(Date.UTC(2026, 10, 23, 14, 15), 'UTC')).toEqual([
      Date.UTC(2026, 10, 23, 14, 15),
    ]);
  });

  it('finds none in the hour skipped when summer time begins, both (in order) in the hour repeated when it ends', () => {
    expect(instantsOfWallClock(Date.UTC(2026, 2, 29, 2, 30), 'Europe/Rome')).toEqual([]);
    expect(instantsOfWallClock(Date.UTC(2026, 9, 25, 2, 30), 'Europe/Rome')).toEqual([
      Date.UTC(2026, 9, 25, 0, 30),
      Date.UTC(2026, 9, 25, 1, 30),
    ]);
  });

  it('every instant is among the instants of its own wall time (property)', () => {
    const zones = ['UTC', 'Europe/Rome', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu'];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2099, 11, 31) / 1000 }),
        fc.constantFrom(...zones),
        (seconds, zone) => {
          const ms = seconds * 1000;
          expect(instantsOfWallClock(wallAsUtc(ms, zone), zone)).toContain(ms);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an unknown zone raises the caller-chosen error', () => {
    expect(() => instantsOfWallClock(0, 'Mars/Olympus', (z) => new RangeError(`no zone ${z}`))).toThrow(
      'no zone Mars/Olympus',
    );
  });
});

describe('wallClock in UTC (read from the Date fields, not Intl)', () => {
  it('gives the fields Intl gives for UTC, over instants from 1970 to 2100', () => {
    const byIntl = (ms: number) => {
      const fields: Record<string, number> = {};
      for (const part of zonedFormatter('UTC').formatToParts(ms))
        if (part.type !== 'literal') fields[part.type] = Number(part.value);
      return fields;
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) }), (ms) => {
        expect(wallClock(ms, 'UTC')).toEqual(byIntl(ms));
      }),
      { numRuns: 2_000 },
    );
  });
});
