import { ModemError } from '../errors.js';
import { printable } from '../identification.js';

/**
 * IEC 62056-21 (ex IEC 61107) mode C framing, pure: messages to bytes and bytes to messages.
 *
 *  request (sign-on)   `/?<address>!CR LF`
 *  identification      `/XXXZ<ident>CR LF` (XXX manufacturer, Z baud-rate character, optional `\W`)
 *  ack/option select   `ACK V Z Y CR LF` (V protocol control, Z baud char, Y mode: 0 = data readout)
 *  data message        `STX <data block> ! CR LF ETX BCC`
 *  BCC                 XOR of every byte after STX (or SOH) up to and including ETX.
 */
export const SOH = 0x01;
export const STX = 0x02;
export const ETX = 0x03;
export const EOT = 0x04;
export const ACK = 0x06;
export const NAK = 0x15;
const CR = 0x0d;
const LF = 0x0a;

/** Longest identification message: `/` + 3 + Z + up to 16 ident chars, `\W` and CR LF, with slack. */
export const maxIdentificationBytes = 64;
/** Longest device address in a request message. */
export const maxDeviceAddressChars = 32;

/** Mode C baud-rate characters and the rates they select. */
export const modeCBaudRates: Readonly<Record<string, number>> = {
  '0': 300,
  '1': 600,
  '2': 1200,
  '3': 2400,
  '4': 4800,
  '5': 9600,
  '6': 19200,
};

export function bcc(bytes: Uint8Array): number {
  let x = 0;
  for (const b of bytes) x ^= b;
  return x;
}

export function encodeRequest(deviceAddress = ''): Buffer {
  if (deviceAddress.length > maxDeviceAddressChars || /[^0-9A-Za-z ]/.test(deviceAddress)) {
    throw new ModemError(
      'MF_IEC62056_MALFORMED',
      `device address "${printable(deviceAddress)}" must be at most ${maxDeviceAddressChars} letters, digits or spaces`,
    );
  }
  return Buffer.from(`/?${deviceAddress}!\r\n`, 'latin1');
}

export type ParseResult<T> = { status: 'incomplete' } | { status: 'ok'; value: T; consumedBytes: number };

/** Parses a request message at the start of `buf` (the meter side: the simulator). */
export function parseRequest(buf: Uint8Array): ParseResult<{ deviceAddress: string }> {
  const line = takeLine(buf, maxDeviceAddressChars + 5, 'request message');
  if (!line) return { status: 'incomplete' };
  const match = /^\/\?([0-9A-Za-z ]*)!$/.exec(line.text);
  if (!match) {
    throw new ModemError(
      'MF_IEC62056_MALFORMED',
      `"${printable(line.text)}" is not an IEC 62056-21 request /?...!`,
    );
  }
  return { status: 'ok', value: { deviceAddress: match[1]! }, consumedBytes: line.consumedBytes };
}

export type IdentificationMessage = {
  /** Three-letter manufacturer id (FLAG id), e.g. `ISK`, `LGZ`, `Els`. */
  manufacturer: string;
  /** The baud-rate character Z the meter offers. */
  baudChar: string;
  /** The model / identification text after Z (and after `\W` when present). */
  identification: string;
  /** The enhanced-capability character W when the meter sent `\W`. */
  enhancedCapability?: string;
};

export function encodeIdentification(msg: IdentificationMessage): Buffer {
  const enhanced = msg.enhancedCapability !== undefined ? `\\${msg.enhancedCapability}` : '';
  return Buffer.from(`/${msg.manufacturer}${msg.baudChar}${enhanced}${msg.identification}\r\n`, 'latin1');
}

export function parseIdentificationMessage(buf: Uint8Array): ParseResult<IdentificationMessage> {
  const line = takeLine(buf, maxIdentificationBytes, 'identification message');
  if (!line) return { status: 'incomplete' };
  const match = /^\/([A-Za-z]{3})([0-9A-Z])(\\[0-9A-Za-z@])?([\x21-\x7e][\x20-\x7e]*)$/.exec(line.text);
  if (!match) {
    throw new ModemError(
      'MF_IEC62056_MALFORMED',
      `"${printable(line.text)}" is not an IEC 62056-21 identification /XXXZ<ident>; is a meter behind this modem?`,
    );
  }
  const value: IdentificationMessage = {
    manufacturer: match[1]!,
    baudChar: match[2]!,
    identification: match[4]!,
  };
  if (match[3]) value.enhancedCapability = match[3].slice(1);
  return { status: 'ok', value, consumedBytes: line.consumedBytes };
}

export type AckOptionSelect = { protocolControl: string; baudChar: string; mode: string };

export function encodeAckOptionSelect(opt: AckOptionSelect): Buffer {
  return Buffer.concat([
    Buffer.from([ACK]),
    Buffer.from(`${opt.protocolControl}${opt.baudChar}${opt.mode}\r\n`),
  ]);
}

export function parseAckOptionSelect(buf: Uint8Array): ParseResult<AckOptionSelect> {
  if (buf.length === 0) return { status: 'incomplete' };
  if (buf[0] !== ACK) {
    throw new ModemError('MF_IEC62056_MALFORMED', `expected ACK (0x06) option select, got 0x${hex(buf[0]!)}`);
  }
  const line = takeLine(buf.subarray(1), 8, 'option select message');
  if (!line) return { status: 'incomplete' };
  const match = /^([0-9])([0-9A-Z])([0-9])$/.exec(line.text);
  if (!match) {
    throw new ModemError('MF_IEC62056_MALFORMED', `option select "${printable(line.text)}" is not V Z Y`);
  }
  return {
    status: 'ok',
    value: { protocolControl: match[1]!, baudChar: match[2]!, mode: match[3]! },
    consumedBytes: line.consumedBytes + 1,
  };
}

/** A data message as a meter sends it in readout mode: STX, lines, `!` CR LF, ETX, BCC. */
export function encodeReadoutMessage(dataLines: readonly string[]): Buffer {
  const body = Buffer.from(`${dataLines.map((l) => `${l}\r\n`).join('')}!\r\n`, 'latin1');
  const framed = Buffer.concat([Buffer.from([STX]), body, Buffer.from([ETX])]);
  return Buffer.concat([framed, Buffer.from([bcc(framed.subarray(1))])]);
}

export type DataMessage = {
  /** The data block without the closing `!` line, as lines. */
  lines: string[];
};

/**
 * Parses a readout data message at the start of `buf`. `incomplete` until ETX and BCC have
 * arrived; throws on a bad BCC, on bytes outside the frame, on a block without its closing
 * `!` line (truncated) and when `maxMessageBytes` pass without ETX.
 */
export function parseReadoutMessage(buf: Uint8Array, maxMessageBytes: number): ParseResult<DataMessage> {
  if (buf.length === 0) return { status: 'incomplete' };
  if (buf[0] === NAK) {
    throw new ModemError('MF_IEC62056_MALFORMED', 'the meter answered NAK instead of a data message');
  }
  if (buf[0] !== STX) {
    throw new ModemError(
      'MF_IEC62056_MALFORMED',
      `expected STX (0x02) to start the data message, got 0x${hex(buf[0]!)}; the meter may not support readout mode`,
    );
  }
  const etx = buf.indexOf(ETX, 1);
  if (etx < 0 || etx + 1 >= buf.length) {
    if (buf.length > maxMessageBytes) {
      throw new ModemError(
        'MF_IEC62056_TOO_LARGE',
        `data message exceeds ${maxMessageBytes} bytes without ETX; raise maxMessageBytes if the meter really sends that much`,
        { maxMessageBytes },
      );
    }
    return { status: 'incomplete' };
  }
  const expected = bcc(buf.subarray(1, etx + 1));
  const received = buf[etx + 1]!;
  if (expected !== received) {
    throw new ModemError(
      'MF_IEC62056_CHECKSUM',
      `data message BCC is 0x${hex(received)} but the bytes give 0x${hex(expected)}; the block was corrupted, read again`,
      { expected, received },
    );
  }
  const text = Buffer.from(buf.subarray(1, etx)).toString('latin1');
  const endMark = text.lastIndexOf('!\r\n');
  if (
    endMark < 0 ||
    endMark + 3 !== text.length ||
    (endMark > 0 && !text.slice(0, endMark).endsWith('\r\n'))
  ) {
    throw new ModemError(
      'MF_IEC62056_TRUNCATED',
      'data block ends without its "!" CR LF end line; the readout was cut short, read again',
    );
  }
  const lines = text
    .slice(0, endMark)
    .split('\r\n')
    .filter((l) => l.length > 0);
  return { status: 'ok', value: { lines }, consumedBytes: etx + 2 };
}

function takeLine(
  buf: Uint8Array,
  maxBytes: number,
  what: string,
): { text: string; consumedBytes: number } | null {
  const lf = buf.indexOf(LF);
  if (lf < 0) {
    if (buf.length > maxBytes) {
      throw new ModemError('MF_IEC62056_TOO_LARGE', `${what} exceeds ${maxBytes} bytes without CR LF`);
    }
    return null;
  }
  if (lf === 0 || buf[lf - 1] !== CR) {
    throw new ModemError('MF_IEC62056_MALFORMED', `${what} must end with CR LF`);
  }
  if (lf + 1 > maxBytes) {
    throw new ModemError('MF_IEC62056_TOO_LARGE', `${what} exceeds ${maxBytes} bytes`);
  }
  return { text: Buffer.from(buf.subarray(0, lf - 1)).toString('latin1'), consumedBytes: lf + 1 };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
