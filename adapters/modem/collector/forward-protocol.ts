import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ModemError, type ModemErrorCode } from '../errors.js';
import { isValidImei, printable } from '../identification.js';

/**
 * The internal forwarding handshake between collector nodes, pure. A node that holds a poller
 * but not the modem opens a TCP connection to the node that holds the modem and sends one line
 *   `MFFWD1 <imei> <timestampMs> <nonce> <client> <hmac>\n`
 * where hmac = HMAC-SHA256(secret, the line's fields before it). The holder answers `OK\n` (then
 * raw bytes flow both ways) or `ERR <code> <reason>\n` and closes.
 */
export const maxForwardHeaderBytes = 512;
/** Headers older or newer than this are refused: a captured header cannot be replayed later. */
export const forwardClockSkewMs = 30_000;

function mac(secret: string, fields: string): string {
  return createHmac('sha256', secret).update(fields).digest('hex');
}

export function encodeForwardHeader(secret: string, imei: string, client: string, nowMs: number): Buffer {
  const fields = `MFFWD1 ${imei} ${nowMs} ${randomBytes(8).toString('hex')} ${client.replace(/\s/g, '_') || '-'}`;
  return Buffer.from(`${fields} ${mac(secret, fields)}\n`, 'latin1');
}

export type ForwardHeader = { imei: string; client: string; consumedBytes: number };

/** `null` while the line is incomplete; throws MF_MODEM_FORWARD_DENIED for anything not authentic. */
export function parseForwardHeader(buf: Uint8Array, secret: string, nowMs: number): ForwardHeader | null {
  const lf = buf.indexOf(0x0a);
  if (lf < 0) {
    if (buf.length > maxForwardHeaderBytes) deny('forward header too long');
    return null;
  }
  if (lf > maxForwardHeaderBytes) deny('forward header too long');
  const line = Buffer.from(buf.subarray(0, lf)).toString('latin1');
  const parts = line.split(' ');
  if (parts.length !== 6 || parts[0] !== 'MFFWD1') deny(`not a forward header: "${printable(line)}"`);
  const [, imei, ts, , client, hmac] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(mac(secret, parts.slice(0, 5).join(' ')), 'latin1');
  const received = Buffer.from(hmac, 'latin1');
  if (expected.length !== received.length || !timingSafeEqual(expected, received))
    deny('bad forward signature');
  if (!isValidImei(imei)) deny('bad IMEI in forward header');
  if (!(Math.abs(nowMs - Number(ts)) <= forwardClockSkewMs)) deny('forward header timestamp out of range');
  return { imei, client, consumedBytes: lf + 1 };
}

function deny(reason: string): never {
  throw new ModemError('MF_MODEM_FORWARD_DENIED', `forwarded poll refused: ${reason}`);
}

export function encodeForwardReply(
  result: { ok: true } | { ok: false; code: ModemErrorCode; message: string },
): Buffer {
  return Buffer.from(
    result.ok ? 'OK\n' : `ERR ${result.code} ${result.message.replace(/\n/g, ' ')}\n`,
    'latin1',
  );
}

export type ForwardReply = { ok: true; consumedBytes: number } | { ok: false; code: string; message: string };

export function parseForwardReply(buf: Uint8Array): ForwardReply | null {
  const lf = buf.indexOf(0x0a);
  if (lf < 0) {
    if (buf.length > maxForwardHeaderBytes)
      return { ok: false, code: 'MF_MODEM_FORWARD_DENIED', message: 'reply too long' };
    return null;
  }
  const line = Buffer.from(buf.subarray(0, lf)).toString('latin1');
  if (line === 'OK') return { ok: true, consumedBytes: lf + 1 };
  const m = /^ERR (\S+) (.*)$/.exec(line);
  return m
    ? { ok: false, code: m[1]!, message: m[2]! }
    : { ok: false, code: 'MF_MODEM_FORWARD_DENIED', message: `bad reply "${printable(line)}"` };
}
