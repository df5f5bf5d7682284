import { KnxError } from './errors.js';

/**
 * KNX addresses. An individual address x.y.z is area(4)/line(4)/device(8); a group address is
 * 3-level a/b/c (5/3/8 bits) or 2-level a/b (5/11 bits). Both are 16-bit raw values on the wire.
 */

export type GroupAddressStyle = '3-level' | '2-level';

export function formatIndividualAddress(raw: number): string {
  return `${(raw >> 12) & 0x0f}.${(raw >> 8) & 0x0f}.${raw & 0xff}`;
}

export function formatGroupAddress(raw: number, style: GroupAddressStyle = '3-level'): string {
  if (style === '2-level') return `${(raw >> 11) & 0x1f}/${raw & 0x7ff}`;
  return `${(raw >> 11) & 0x1f}/${(raw >> 8) & 0x07}/${raw & 0xff}`;
}

function parts(text: string, separator: string, what: string): number[] {
  const pieces = text.trim().split(separator);
  const numbers = pieces.map((p) => (/^\d{1,5}$/.test(p) ? Number(p) : Number.NaN));
  if (numbers.some((n) => Number.isNaN(n))) {
    throw new KnxError('MF_KNX_ADDRESS', `"${text}" is not a KNX ${what}`, { text });
  }
  return numbers;
}

function check(value: number, max: number, text: string, what: string): number {
  if (value > max) {
    throw new KnxError('MF_KNX_ADDRESS', `"${text}" is not a KNX ${what}: ${value} exceeds ${max}`, { text });
  }
  return value;
}

/** Parses "1.1.250" (area.line.device). */
export function parseIndividualAddress(text: string): number {
  const what = 'individual address (area.line.device, e.g. 1.1.250)';
  const p = parts(text, '.', what);
  if (p.length !== 3) throw new KnxError('MF_KNX_ADDRESS', `"${text}" is not a KNX ${what}`, { text });
  return (
    (check(p[0]!, 15, text, what) << 12) | (check(p[1]!, 15, text, what) << 8) | check(p[2]!, 255, text, what)
  );
}

/** Parses a 3-level "1/2/3" or 2-level "1/515" group address. */
export function parseGroupAddress(text: string): number {
  const what = 'group address (main/middle/sub like 1/2/3, or main/sub like 1/515)';
  const p = parts(text, '/', what);
  if (p.length === 3) {
    return (
      (check(p[0]!, 31, text, what) << 11) |
      (check(p[1]!, 7, text, what) << 8) |
      check(p[2]!, 255, text, what)
    );
  }
  if (p.length === 2) return (check(p[0]!, 31, text, what) << 11) | check(p[1]!, 2047, text, what);
  throw new KnxError('MF_KNX_ADDRESS', `"${text}" is not a KNX ${what}`, { text });
}
