import { invalidInput } from './errors.js';

/** Identifiers (serials, PODs, concentrator ids) are bounded so no input can grow state without limit. */
export const maxIdLength = 64;
export const maxTextLength = 256;

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._:\-/]*$/;

export function requireId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw invalidInput(`${field} is missing: give a non-empty identifier`, { field });
  if (value.length > maxIdLength)
    throw invalidInput(`${field} is longer than ${maxIdLength} characters`, { field, length: value.length });
  if (!idPattern.test(value))
    throw invalidInput(`${field} "${value}" has characters outside A-Z a-z 0-9 . _ : - /`, { field, value });
  return value;
}

export function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim().length === 0)
    throw invalidInput(`${field} is missing`, { field });
  if (value.length > maxTextLength)
    throw invalidInput(`${field} is longer than ${maxTextLength} characters`, { field });
  return value;
}

export function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  return requireText(value, field);
}

export function requireInstant(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isInteger(value) || value < 0)
    throw invalidInput(`${field} must be a non-negative integer of ms since the Unix epoch`, {
      field,
      value,
    });
  return value;
}

const knownZones = new Map<string, boolean>();

/** An IANA time zone the runtime knows (Intl rejects unknown zones with a RangeError). */
export function requireTimeZone(value: unknown, field: string): string {
  const zone = requireText(value, field);
  let known = knownZones.get(zone);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      known = true;
    } catch {
      known = false;
    }
    knownZones.set(zone, known);
  }
  if (!known) throw invalidInput(`${field} "${zone}" is not an IANA time zone (e.g. Europe/Rome)`, { field });
  return zone;
}
