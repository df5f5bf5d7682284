import { ModemError } from './errors.js';

/**
 * What a modem sends first after it dials in: its identification. Pure: bytes in, decision out.
 *
 * iRZ ATM modems in client mode identify themselves first; the framing of iRZ's own protocol
 * is not published (no public source found), so the collector accepts three configurable forms
 * (see README.md), the plain-text ones being an assumption to check against real modems:
 *  - `digits`:   the IMEI as 15 ASCII digits, optionally followed by CR, LF, CRLF or NUL;
 *  - `prefixed`: a configured ASCII prefix (e.g. `IMEI:` or `#`) then the same;
 *  - `fields`:   one line `IMEI=<15 digits>;ICCID=..;CSQ=..;FW=..;GPI=0101;TYPE=data|status` ending
 *                in CR LF / LF, which carries what iRZ Collector stores about a modem (SIM, signal,
 *                firmware, GPI inputs). `TYPE=status` is a short status report (e.g. a GPI change) on
 *                its own connection that does not replace the modem's data session.
 */
export type IdentificationKind = 'digits' | 'prefixed' | 'fields';

export type IdentificationConfig = {
  /** Forms accepted, tried in this order on the first byte. */
  accept: readonly IdentificationKind[];
  /** Prefix for the `prefixed` form. */
  prefix?: string;
  /** Upper bound of the identification in bytes (terminator included). */
  maxIdentBytes: number;
};

export const defaultIdentificationConfig: IdentificationConfig = {
  accept: ['digits', 'fields', 'prefixed'],
  prefix: 'IMEI:',
  maxIdentBytes: 256,
};

export type ModemIdentification = {
  imei: string;
  /** `status` reports update the registry and close; `data` sessions are bridged. */
  type: 'data' | 'status';
  iccid?: string;
  /** GSM signal quality as AT+CSQ reports it (0..31, 99 = unknown). */
  signalCsq?: number;
  firmware?: string;
  /** GPI input states, index 0 = GPI1. */
  gpi?: boolean[];
};

export type IdentificationResult =
  | { status: 'incomplete' }
  | { status: 'identified'; identification: ModemIdentification; consumedBytes: number };

const IMEI_LENGTH = 15;

/** Luhn check over a digit string whose last digit is the check digit. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The Luhn check digit to append to a 14-digit IMEI body. */
export function luhnCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return String(d);
  throw new ModemError('MF_MODEM_IMEI_INVALID', `"${body}" is not a digit string`);
}

/** Throws MF_MODEM_IMEI_INVALID unless `imei` is 15 digits with a valid Luhn check digit. */
export function assertImei(imei: string): void {
  if (!/^\d{15}$/.test(imei)) {
    throw new ModemError(
      'MF_MODEM_IMEI_INVALID',
      `IMEI "${printable(imei)}" must be exactly 15 digits; check the modem's identifier setting`,
      { imei: printable(imei) },
    );
  }
  if (!luhnValid(imei)) {
    throw new ModemError(
      'MF_MODEM_IMEI_INVALID',
      `IMEI ${imei} fails the Luhn check digit; the identifier is mistyped or corrupted`,
      { imei },
    );
  }
}

export function isValidImei(imei: string): boolean {
  return /^\d{15}$/.test(imei) && luhnValid(imei);
}

/** Renders bytes for an error message without control characters. */
export function printable(text: string, maxChars = 40): string {
  const cleaned = text.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return cleaned.length > maxChars ? `${cleaned.slice(0, maxChars)}...` : cleaned;
}

function isTerminator(byte: number | undefined): boolean {
  return byte === 0x0d || byte === 0x0a || byte === 0x00;
}

/** Consumes CR, LF, CRLF or NUL after position `at`; returns the index after it. */
function skipTerminator(buf: Uint8Array, at: number): number {
  if (buf[at] === 0x0d && buf[at + 1] === 0x0a) return at + 2;
  if (isTerminator(buf[at])) return at + 1;
  return at;
}

/**
 * Parses the identification at the start of `buf` (everything the modem sent so far).
 * Returns `incomplete` while more bytes may complete it; throws a ModemError for garbage,
 * oversized input or an invalid IMEI.
 */
export function parseIdentification(buf: Uint8Array, config: IdentificationConfig): IdentificationResult {
  if (buf.length === 0) return { status: 'incomplete' };
  const first = buf[0]!;
  const prefix = config.prefix ?? '';
  const text = Buffer.from(buf.subarray(0, config.maxIdentBytes + 1)).toString('latin1');

  if (config.accept.includes('digits') && first >= 0x30 && first <= 0x39) {
    return parseDigits(buf, 0, text, config);
  }
  if (config.accept.includes('fields') && (text.startsWith('IMEI=') || 'IMEI='.startsWith(text))) {
    if (text.length < 5) return { status: 'incomplete' };
    return parseFields(buf, text, config);
  }
  if (config.accept.includes('prefixed') && prefix.length > 0) {
    if (text.length < prefix.length) {
      if (prefix.startsWith(text)) return { status: 'incomplete' };
    } else if (text.startsWith(prefix)) {
      return parseDigits(buf, prefix.length, text, config);
    }
  }
  throw new ModemError(
    'MF_MODEM_IDENT_MALFORMED',
    `unrecognised modem identification "${printable(text)}"; expected ${describeAccepted(config)}`,
    { received: printable(text) },
  );
}

function describeAccepted(config: IdentificationConfig): string {
  return config.accept
    .map((k) =>
      k === 'digits'
        ? '15 IMEI digits'
        : k === 'prefixed'
          ? `"${config.prefix ?? ''}" + IMEI`
          : 'IMEI=... fields line',
    )
    .join(' or ');
}

function parseDigits(
  buf: Uint8Array,
  start: number,
  text: string,
  config: IdentificationConfig,
): IdentificationResult {
  let end = start;
  while (end < buf.length && end - start < IMEI_LENGTH && buf[end]! >= 0x30 && buf[end]! <= 0x39) end++;
  const digits = text.slice(start, end);
  if (end - start < IMEI_LENGTH) {
    if (end === buf.length) return { status: 'incomplete' };
    throw new ModemError(
      'MF_MODEM_IMEI_INVALID',
      `IMEI "${printable(text.slice(start, end + 1))}" must be exactly 15 digits; check the modem's identifier setting`,
      { received: printable(text) },
    );
  }
  const next = buf[end];
  if (next !== undefined && !isTerminator(next)) {
    throw new ModemError(
      'MF_MODEM_IMEI_INVALID',
      `identification "${printable(text.slice(0, end + 8))}" is longer than a 15-digit IMEI`,
      { received: printable(text) },
    );
  }
  assertImei(digits);
  const consumed = skipTerminator(buf, end);
  if (consumed > config.maxIdentBytes) tooLong(config);
  return { status: 'identified', identification: { imei: digits, type: 'data' }, consumedBytes: consumed };
}

function tooLong(config: IdentificationConfig): never {
  throw new ModemError(
    'MF_MODEM_IDENT_TOO_LONG',
    `modem identification exceeds ${config.maxIdentBytes} bytes without a line end; closing the connection`,
    { maxIdentBytes: config.maxIdentBytes },
  );
}

function parseFields(buf: Uint8Array, text: string, config: IdentificationConfig): IdentificationResult {
  const lineEnd = text.indexOf('\n');
  if (lineEnd < 0) {
    if (buf.length > config.maxIdentBytes) tooLong(config);
    return { status: 'incomplete' };
  }
  if (lineEnd + 1 > config.maxIdentBytes) tooLong(config);
  const line = text.slice(0, lineEnd).replace(/\r$/, '');
  if (/[^\x20-\x7e]/.test(line)) {
    throw new ModemError(
      'MF_MODEM_IDENT_MALFORMED',
      `identification line "${printable(line)}" has control bytes`,
      {
        received: printable(line),
      },
    );
  }
  const fields = new Map<string, string>();
  for (const part of line.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      throw new ModemError(
        'MF_MODEM_IDENT_MALFORMED',
        `identification field "${printable(part)}" is not KEY=value`,
        {
          received: printable(line),
        },
      );
    }
    fields.set(part.slice(0, eq).trim().toUpperCase(), part.slice(eq + 1).trim());
  }
  const imei = fields.get('IMEI') ?? '';
  assertImei(imei);
  const identification: ModemIdentification = { imei, type: 'data' };
  const type = fields.get('TYPE');
  if (type !== undefined) {
    if (type !== 'data' && type !== 'status') {
      throw new ModemError(
        'MF_MODEM_IDENT_MALFORMED',
        `TYPE must be data or status, got "${printable(type)}"`,
      );
    }
    identification.type = type;
  }
  const iccid = fields.get('ICCID');
  if (iccid !== undefined) {
    if (!/^\d{18,22}F?$/.test(iccid)) {
      throw new ModemError('MF_MODEM_IDENT_MALFORMED', `ICCID "${printable(iccid)}" must be 18 to 22 digits`);
    }
    identification.iccid = iccid;
  }
  const csq = fields.get('CSQ');
  if (csq !== undefined) {
    const n = Number(csq);
    if (!/^\d{1,2}$/.test(csq) || (n > 31 && n !== 99)) {
      throw new ModemError('MF_MODEM_IDENT_MALFORMED', `CSQ "${printable(csq)}" must be 0..31 or 99`);
    }
    identification.signalCsq = n;
  }
  const fw = fields.get('FW');
  if (fw !== undefined) identification.firmware = fw.slice(0, 64);
  const gpi = fields.get('GPI');
  if (gpi !== undefined) {
    if (!/^[01]{1,8}$/.test(gpi)) {
      throw new ModemError(
        'MF_MODEM_IDENT_MALFORMED',
        `GPI "${printable(gpi)}" must be 1 to 8 characters of 0/1`,
      );
    }
    identification.gpi = [...gpi].map((c) => c === '1');
  }
  return { status: 'identified', identification, consumedBytes: lineEnd + 1 };
}

/** Encodes an identification in the `fields` form (used by the simulator and tests). */
export function encodeFieldsIdentification(id: ModemIdentification): string {
  const parts = [`IMEI=${id.imei}`];
  if (id.type === 'status') parts.push('TYPE=status');
  if (id.iccid) parts.push(`ICCID=${id.iccid}`);
  if (id.signalCsq !== undefined) parts.push(`CSQ=${id.signalCsq}`);
  if (id.firmware) parts.push(`FW=${id.firmware}`);
  if (id.gpi) parts.push(`GPI=${id.gpi.map((b) => (b ? '1' : '0')).join('')}`);
  return `${parts.join(';')}\r\n`;
}
