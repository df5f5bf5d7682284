import { wallClock } from '../../core/zoned-time.js';

/** Local dates and minutes of an instant in an IANA time zone (core/zoned-time.ts); pure. */
export type LocalTime = { date: string; minuteOfDay: number; hour: number };

const twoDigits = (n: number): string => String(n).padStart(2, '0');

export function localTime(instantMs: number, timeZone: string): LocalTime {
  const wall = wallClock(instantMs, timeZone);
  return {
    date: `${wall.year}-${twoDigits(wall.month)}-${twoDigits(wall.day)}`,
    minuteOfDay: wall.hour * 60 + wall.minute,
    hour: wall.hour,
  };
}

/** The calendar day before `date` (yyyy-mm-dd). */
export function previousDate(date: string): string {
  const t = Date.parse(`${date}T00:00:00Z`) - 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/**
 * The UTC instant of local midnight at the start of `date` (yyyy-mm-dd) in `timeZone`. Found
 * by correcting a UTC guess with the zone's offset twice, which settles across DST changes.
 */
export function localMidnightUtcMs(date: string, timeZone: string): number {
  const target = Date.parse(`${date}T00:00:00Z`);
  let guess = target;
  for (let i = 0; i < 3; i++) {
    const local = localTime(guess, timeZone);
    const localAsUtc = Date.parse(`${local.date}T00:00:00Z`) + local.minuteOfDay * 60_000;
    const offset = localAsUtc - Math.floor(guess / 60_000) * 60_000;
    const next = target - offset;
    if (next === guess) break;
    guess = next;
  }
  return guess;
}

/** The calendar day after `date` (yyyy-mm-dd). */
export function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}
