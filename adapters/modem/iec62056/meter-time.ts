import { instantsOfWallClock, zonedFormatter } from '../../../core/zoned-time.js';
import { ModemError } from '../errors.js';
import { printable } from '../identification.js';

/**
 * Time stamps meters print in their own bracket after a value, `YYMMDDhhmm` on the meter's
 * wall clock (e.g. a maximum demand `1.6.0(00.641*kW)(2608091845)`: the peak ended at 18:45
 * on 2026-08-09, meter local time). The stamp carries no zone, so the caller says which zone
 * the meter's clock keeps. Pure.
 */
export type MeterStamp =
  /** The instant the stamp denotes (UTC ms). */
  | { kind: 'instant'; timestampMs: number }
  /** All zeros: the meter has recorded no time (e.g. no peak since the last reset). */
  | { kind: 'none' };

const invalidZone = (zone: string): Error =>
  new RangeError(`meter time zone "${zone}" is not an IANA time zone (e.g. Europe/Rome, UTC)`);

/** Throws a RangeError naming `timeZone` unless this runtime knows the zone: a configuration error, not the meter's. */
export function assertMeterTimeZone(timeZone: string): void {
  zonedFormatter(timeZone, invalidZone);
}

const stampPattern = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;

/**
 * Reads a `YYMMDDhhmm` stamp of OBIS `obis` in `timeZone`. Years are 2000-2099. Throws
 * MF_IEC62056_MALFORMED for anything else: not ten digits, a date or time that does not exist
 * on the calendar, or a wall time the zone skipped when summer time began (the meter's clock
 * skipped it too). In the hour repeated when summer time ends the earlier instant is taken:
 * the stamp cannot say which one the meter meant, and an hour's doubt is better than dropping
 * the reading.
 */
export function parseMeterStamp(stamp: string, obis: string, timeZone: string): MeterStamp {
  const malformed = (why: string): ModemError =>
    new ModemError(
      'MF_IEC62056_MALFORMED',
      `OBIS ${obis} has time stamp "${printable(stamp)}": ${why}; expected YYMMDDhhmm on the meter's clock (e.g. 2608091845); nothing of this readout was stored`,
      { obis, stamp: printable(stamp) },
    );
  const m = stampPattern.exec(stamp);
  if (!m) throw malformed('not ten digits');
  if (stamp === '0000000000') return { kind: 'none' };
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  const wallMs = Date.UTC(2000 + year, month - 1, day, hour, minute);
  const wall = new Date(wallMs);
  // Date.UTC rolls 31 April over to 1 May; a real calendar date survives the round trip.
  if (
    month < 1 ||
    month > 12 ||
    hour > 23 ||
    minute > 59 ||
    wall.getUTCDate() !== day ||
    wall.getUTCMonth() !== month - 1
  ) {
    throw malformed('no such date or time');
  }
  const instants = instantsOfWallClock(wallMs, timeZone, invalidZone);
  const first = instants[0];
  if (first === undefined)
    throw malformed(`that wall time does not exist in ${timeZone} (summer time began)`);
  return { kind: 'instant', timestampMs: first };
}
