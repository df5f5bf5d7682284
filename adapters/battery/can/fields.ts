import { BatteryCodecError } from '../errors.js';
import type { CanFrame, CanVariant, UnknownBit } from './types.js';

/** Little-endian field readers and checks shared by the CAN layouts (all Pylon fields are LE). */

export function u16le(data: Uint8Array, offset: number): number {
  return data[offset]! | (data[offset + 1]! << 8);
}

export function s16le(data: Uint8Array, offset: number): number {
  const v = u16le(data, offset);
  return v >= 0x8000 ? v - 0x10000 : v;
}

/** Rounds away binary noise from scaling (0.1 × 532 = 53.2, not 53.200000000000003). */
export function scaled(raw: number, scale: number): number {
  return Math.round(raw * scale * 1000) / 1000;
}

export function requireDlc(frame: CanFrame, minBytes: number, maxBytes: number, what: string): void {
  const dlc = frame.data.length;
  if (dlc < minBytes || dlc > maxBytes) {
    const expected = minBytes === maxBytes ? `${minBytes}` : `${minBytes}–${maxBytes}`;
    throw new BatteryCodecError(
      'MF_BATTERY_CAN_DLC',
      `CAN 0x${frame.id.toString(16)} (${what}) has DLC ${dlc}; expected ${expected} bytes. The frame was not decoded`,
      { id: frame.id, dlc, expectedMin: minBytes, expectedMax: maxBytes },
    );
  }
}

export function requireRange(
  frame: CanFrame,
  field: string,
  value: number,
  min: number,
  max: number,
  unit: string,
): void {
  if (!(value >= min && value <= max)) {
    throw new BatteryCodecError(
      'MF_BATTERY_VALUE_RANGE',
      `CAN 0x${frame.id.toString(16)}: ${field} = ${value} ${unit} is outside ${min}…${max} ${unit}; the frame is corrupt or mis-scaled`,
      { id: frame.id, field, value, min, max, unit },
    );
  }
}

/** Bits set in `byte` that are not in `knownMask`, one entry per bit. */
export function unknownBitsOf(byteIndex: number, byte: number, knownMask: number): UnknownBit[] {
  const out: UnknownBit[] = [];
  const stray = byte & ~knownMask & 0xff;
  for (let mask = 0x80; mask > 0; mask >>= 1) if (stray & mask) out.push({ byte: byteIndex, mask });
  return out;
}

/** ASCII with trailing spaces/NULs removed; non-printable bytes become '?'. */
export function asciiText(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : b === 0 ? '\0' : '?';
  return out.replace(/[\s\0]+$/, '');
}

type Base = { id: number; extended: boolean; variant: CanVariant; packId?: number };

/**
 * `{ ...base, ...fields }` without object spread: on this Node 20 build spread costs ~8 µs per
 * object (measured in bench/battery.bench.ts' run), which dominated decoding. Keeps id first.
 */
export function withBase<const T extends object>(base: Base, fields: T): Base & T {
  const out = { id: base.id, extended: base.extended, variant: base.variant } as Base & T;
  if (base.packId !== undefined) out.packId = base.packId;
  return Object.assign(out, fields);
}
