import { MeterfabricError } from '../../core/errors.js';
import { instantsOfWallClock, wallClock, zonedFormatter } from '../../core/zoned-time.js';

/**
 * Wall-clock timestamps `yyyy-mm-dd HH:MM:SS.fff` in an IANA time zone, for the `*local`
 * columns of the SMMePlus reports (the concentrator's zone). Pure: Intl does no I/O.
 *
 * The format carries no offset, so across DST it is lossy: in the autumn hour that repeats,
 * two instants share one text; in the spring hour that is skipped, no instant has that text.
 * Formatting is always defined; parsing says which case it met instead of guessing.
 */
export class CsvTimeZoneError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_CSV_TIME_ZONE', message, details);
    this.name = 'CsvTimeZoneError';
  }
}

const invalidZone = (timeZone: string): Error =>
  new CsvTimeZoneError(`"${timeZone}" is not an IANA time zone (e.g. Europe/Rome, UTC)`, { timeZone });

/** Throws MF_CSV_TIME_ZONE unless `timeZone` is a zone this runtime knows. */
export function assertTimeZone(timeZone: string): void {
  zonedFormatter(timeZone, invalidZone);
}

/** The wall-clock fields of an instant in a zone, as if they were a UTC instant (ms). */
function wallAsUtcMs(ms: number, timeZone: string): number {
  const wall = wallClock(ms, timeZone, invalidZone);
  const wholeSeconds = Math.floor(ms / 1000) * 1000;
  return (
    Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second) + (ms - wholeSeconds)
  );
}

/** `yyyy-mm-dd HH:MM:SS.fff` of an instant on the wall clock of `timeZone`. */
export function formatCsvLocalTimestamp(ms: number, timeZone: string): string {
  if (!Number.isFinite(ms))
    throw new CsvTimeZoneError(`cannot write ${ms} as a local timestamp`, { timeZone });
  const iso = new Date(wallAsUtcMs(ms, timeZone)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

const pattern = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/;

export function isCsvTimestampText(text: string): boolean {
  return pattern.test(text);
}

/** In the repeated autumn hour: the first (`earlier`, still summer time) or second occurrence, or refuse. */
export type RepeatedHour = 'earlier' | 'later' | 'reject';

/**
 * The instant a local timestamp of `timeZone` denotes. A time in the skipped spring hour is
 * refused; one in the repeated autumn hour is refused unless `repeated` picks an occurrence.
 */
export function parseCsvLocalTimestamp(
  text: string,
  timeZone: string,
  repeated: RepeatedHour = 'reject',
): number {
  const m = pattern.exec(text);
  if (!m)
    throw new CsvTimeZoneError(`"${text}" is not a timestamp of the form yyyy-mm-dd HH:MM:SS.fff`, {
      text,
    });
  const wall = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
  // Every instant that reads `wall` in the zone, ascending: none, one, or two (core's DST search).
  const unique = instantsOfWallClock(wall, timeZone, invalidZone);
  if (unique.length === 0)
    throw new CsvTimeZoneError(
      `${text} does not exist in ${timeZone} (the clock skipped it when summer time began)`,
      { text, timeZone },
    );
  if (unique.length === 1) return unique[0]!;
  if (repeated === 'earlier') return unique[0]!;
  if (repeated === 'later') return unique[unique.length - 1]!;
  throw new CsvTimeZoneError(
    `${text} happened twice in ${timeZone} (the clock went back when summer time ended); say which one is meant`,
    { text, timeZone, instants: unique.map((t) => new Date(t).toISOString()) },
  );
}

/** `yyyy-mm-dd` of an instant on the wall clock of `timeZone`: the day of a daily file. */
export function localDayOf(ms: number, timeZone: string): string {
  return formatCsvLocalTimestamp(ms, timeZone).slice(0, 10);
}
