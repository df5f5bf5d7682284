/**
 * The wall clock of an instant in an IANA time zone, for every module that needs local time
 * (CSV `*local` columns, schedules, the field simulation). Pure: Intl does no I/O. One
 * formatter per zone is cached because building one costs far more than using it; the cache
 * is bounded (zones come from configuration and input, so their number is not ours to trust).
 */
export type WallClock = {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
};

const maxCachedZones = 512;
const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The cached formatter of `timeZone`. An unknown zone throws `invalidZone(timeZone)` when
 * given (each caller keeps its own error type), else Intl's RangeError.
 */
export function zonedFormatter(
  timeZone: string,
  invalidZone?: (timeZone: string) => Error,
): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter) return formatter;
  try {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
  } catch (err) {
    throw invalidZone ? invalidZone(timeZone) : err;
  }
  if (formatters.size >= maxCachedZones) formatters.clear();
  formatters.set(timeZone, formatter);
  return formatter;
}

/** The wall-clock fields of `instantMs` in `timeZone` (whole seconds; month 1-12). */
export function wallClock(
  instantMs: number,
  timeZone: string,
  invalidZone?: (timeZone: string) => Error,
): WallClock {
  // UTC needs no zone rules: the Date fields are the wall clock (Intl's formatToParts cost the
  // head-end driver ~1.4% of its CPU for it).
  if (timeZone === 'UTC') {
    const d = new Date(instantMs);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    };
  }
  const fields: Record<string, number> = {};
  for (const part of zonedFormatter(timeZone, invalidZone).formatToParts(instantMs))
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  return {
    year: fields.year!,
    month: fields.month!,
    day: fields.day!,
    hour: fields.hour!,
    minute: fields.minute!,
    second: fields.second!,
  };
}

/**
 * The instants (UTC ms, ascending) whose wall clock in `timeZone` reads `wallMs`, given as the
 * wall-clock fields taken as if they were UTC (`Date.UTC(year, month - 1, day, hour, ...)`).
 * Usually one; two in the hour repeated when summer time ends; none in the hour skipped when it
 * begins. Callers decide what each case means for their data.
 */
export function instantsOfWallClock(
  wallMs: number,
  timeZone: string,
  invalidZone?: (timeZone: string) => Error,
): number[] {
  const wallAsUtc = (t: number): number => {
    const w = wallClock(t, timeZone, invalidZone);
    const wholeSeconds = Math.floor(t / 1000) * 1000;
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) + (t - wholeSeconds);
  };
  // The offsets in force around that wall time (zones change offset at most once in two days).
  const offsets = new Set([-36, 0, 36].map((h) => wallMs + h * 3_600_000).map((t) => wallAsUtc(t) - t));
  const matches = [...offsets].map((offset) => wallMs - offset).filter((t) => wallAsUtc(t) === wallMs);
  return [...new Set(matches)].sort((a, b) => a - b);
}
