import { BatteryCodecError } from '../errors.js';

/** One classic CAN frame (no CAN FD): 11-bit or 29-bit id, 0–8 data bytes (the DLC). */
export type CanFrame = {
  id: number;
  extended: boolean;
  data: Uint8Array;
};

export const maxStandardId = 0x7ff;
export const maxExtendedId = 0x1fffffff;
export const maxClassicDataBytes = 8;

/** Rejects ids and DLCs that no classic CAN controller can put on the wire. */
export function assertValidCanFrame(frame: CanFrame): void {
  const maxId = frame.extended ? maxExtendedId : maxStandardId;
  if (!Number.isInteger(frame.id) || frame.id < 0 || frame.id > maxId) {
    throw new BatteryCodecError(
      'MF_BATTERY_CAN_ID',
      `CAN id 0x${frame.id.toString(16)} does not fit a ${frame.extended ? '29' : '11'}-bit identifier`,
      { id: frame.id, extended: frame.extended },
    );
  }
  if (frame.data.length > maxClassicDataBytes) {
    throw new BatteryCodecError(
      'MF_BATTERY_CAN_DLC',
      `CAN frame 0x${frame.id.toString(16)} has ${frame.data.length} data bytes; classic CAN carries at most 8`,
      { id: frame.id, dlc: frame.data.length },
    );
  }
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).toUpperCase().padStart(2, '0');
  return out;
}

/** Parses hex with optional spaces; throws MF_BATTERY_CAN_FRAME on anything else. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new BatteryCodecError('MF_BATTERY_CAN_FRAME', `"${text}" is not an even number of hex digits`, {
      text,
    });
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Parses candump's compact notation: `351#1402740E740ECC01` (3 hex digits: standard id) or
 * `00001351#...` (8 hex digits: extended id), as used in the reference captures.
 */
export function parseCandump(text: string): CanFrame {
  const match = /^([0-9a-fA-F]{1,8})#([0-9a-fA-F]*)$/.exec(text.trim());
  if (!match) {
    throw new BatteryCodecError('MF_BATTERY_CAN_FRAME', `"${text}" is not candump notation (ID#HEXDATA)`, {
      text,
    });
  }
  const idText = match[1]!;
  const frame: CanFrame = {
    id: Number.parseInt(idText, 16),
    extended: idText.length > 3,
    data: fromHex(match[2]!),
  };
  assertValidCanFrame(frame);
  return frame;
}

export function formatCandump(frame: CanFrame): string {
  const id = frame.id
    .toString(16)
    .toUpperCase()
    .padStart(frame.extended ? 8 : 3, '0');
  return `${id}#${toHex(frame.data)}`;
}
