/**
 * Wall-clock parts of an instant in an IANA time zone. Pure (Intl does no I/O); formatters
 * are cached per zone because building one costs far more than using it.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
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
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export type LocalTime = { date: string; minuteOfDay: number; hour: number };

export function localTime(instantMs: number, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(instantMs)) parts[part.type] = part.value;
  const hour = Number(parts.hour);
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    minuteOfDay: hour * 60 + Number(parts.minute),
    hour,
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
