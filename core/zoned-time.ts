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
