import { BatteryCodecError } from '../errors.js';

/**
 * Pylontech low-voltage RS485 ASCII framing (reference §3.1):
 * `~` VER ADR CID1 CID2 LENGTH INFO CHKSUM CR, every byte as two uppercase hex characters.
 * LENGTH = LCHKSUM (4 bits) | LENID (12 bits, INFO length in ASCII characters).
 */

export const soi = '~';
export const eoi = '\r';
/** LENID is 12 bits, so a frame is at most 1 + 12 + 4095 + 4 + 1 characters. */
export const maxFrameChars = 1 + 12 + 0xfff + 4 + 1;

export type Rs485Frame = {
  ver: number;
  adr: number;
  cid1: number;
  /** The command in a request; the return code (RTN) in a reply. */
  cid2: number;
  info: Uint8Array;
};

/** LCHKSUM: the two's complement of the sum of LENID's three nibbles, **masked to 4 bits**. */
export function lengthChecksum(lenid: number): number {
  return -(((lenid >> 8) & 0xf) + ((lenid >> 4) & 0xf) + (lenid & 0xf)) & 0xf;
}

export function lengthField(lenid: number): string {
  if (!Number.isInteger(lenid) || lenid < 0 || lenid > 0xfff) {
    throw new BatteryCodecError(
      'MF_BATTERY_RS485_TOO_LONG',
      `INFO of ${lenid} characters does not fit LENID (max 4095)`,
    );
  }
  return hex16((lengthChecksum(lenid) << 12) | lenid);
}

/** CHKSUM: two's complement, mod 65536, of the sum of the ASCII codes after `~` up to the end of INFO. */
export function frameChecksum(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += body.charCodeAt(i);
  return -sum & 0xffff;
}

function hex8(v: number): string {
  return (v & 0xff).toString(16).toUpperCase().padStart(2, '0');
}

function hex16(v: number): string {
  return (v & 0xffff).toString(16).toUpperCase().padStart(4, '0');
}

export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += hex8(b);
  return out;
}

export function encodeRs485Frame(frame: Rs485Frame): string {
  const infoHex = bytesToHex(frame.info);
  const body =
    hex8(frame.ver) +
    hex8(frame.adr) +
    hex8(frame.cid1) +
    hex8(frame.cid2) +
    lengthField(infoHex.length) +
    infoHex;
  return soi + body + hex16(frameChecksum(body)) + eoi;
}

const hexPattern = /^[0-9A-Fa-f]*$/;

function parseHexBytes(text: string, what: string): Uint8Array {
  if (!hexPattern.test(text)) {
    throw new BatteryCodecError(
      'MF_BATTERY_RS485_HEX',
      `${what} contains characters that are not hex digits`,
      {
        text: text.length > 64 ? `${text.slice(0, 64)}…` : text,
      },
    );
  }
  const out = new Uint8Array(text.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Decodes one complete frame (`~` … CR; the CR may be omitted when the caller already split on
 * it). Checks, in order: SOI, size bound, hex alphabet, LCHKSUM, LENID against the real INFO
 * length, CHKSUM. Any failure throws a BatteryCodecError naming the field.
 */
export function decodeRs485Frame(text: string): Rs485Frame {
  if (text.length > maxFrameChars) {
    throw new BatteryCodecError(
      'MF_BATTERY_RS485_TOO_LONG',
      `RS485 frame of ${text.length} characters exceeds ${maxFrameChars}`,
      {
        lengthChars: text.length,
      },
    );
  }
  if (!text.startsWith(soi)) {
    throw new BatteryCodecError('MF_BATTERY_RS485_SOI', 'RS485 frame does not start with "~" (SOI)', {
      start: text.slice(0, 8),
    });
  }
  const inner = text.endsWith(eoi) ? text.slice(1, -1) : text.slice(1);
  // 12 header chars + 4 checksum chars is the smallest frame (LENID 0).
  if (inner.length < 16) {
    throw new BatteryCodecError(
      'MF_BATTERY_RS485_TRUNCATED',
      `RS485 frame is truncated: ${inner.length} characters between "~" and CR, at least 16 needed`,
      { lengthChars: inner.length },
    );
  }
  if (!hexPattern.test(inner)) {
    throw new BatteryCodecError(
      'MF_BATTERY_RS485_HEX',
      'RS485 frame contains characters that are not hex digits',
      {
        frame: inner.length > 64 ? `${inner.slice(0, 64)}…` : inner,
      },
    );
  }
  const header = parseHexBytes(inner.slice(0, 8), 'header');
  const length = Number.parseInt(inner.slice(8, 12), 16);
  const lenid = length & 0xfff;
  const lchksum = length >> 12;
  if (lchksum !== lengthChecksum(lenid)) {
    throw new BatteryCodecError(
      'MF_BATTERY_RS485_LCHKSUM',
      `RS485 LENGTH ${inner.slice(8, 12)}: LCHKSUM ${lchksum.toString(16).toUpperCase()} does not match LENID ${lenid} (expected ${lengthChecksum(lenid).toString(16).toUpperCase()})`,
      { length: inner.slice(8, 12), lenid, expected: lengthChecksum(lenid) },
    );
  }
  const infoChars = inner.length - 16;
  if (lenid !== infoChars || lenid % 2 !== 0) {
    throw new BatteryCodecError(
      infoChars < lenid ? 'MF_BATTERY_RS485_TRUNCATED' : 'MF_BATTERY_RS485_LENGTH',
      `RS485 LENID says ${lenid} INFO characters but the frame carries ${infoChars}`,
      { lenid, infoChars },
    );
  }
  const body = inner.slice(0, 12 + lenid);
  const received = Number.parseInt(inner.slice(12 + lenid), 16);
  const expected = frameChecksum(body);
  if (received !== expected) {
    throw new BatteryCodecError(
      'MF_BATTERY_RS485_CHKSUM',
      `RS485 CHKSUM ${hex16(received)} is wrong (computed ${hex16(expected)}); the frame was corrupted on the line`,
      { received: hex16(received), expected: hex16(expected) },
    );
  }
  return {
    ver: header[0]!,
    adr: header[1]!,
    cid1: header[2]!,
    cid2: header[3]!,
    info: parseHexBytes(inner.slice(12, 12 + lenid), 'INFO'),
  };
}
