import { BatteryCodecError } from '../errors.js';
import type { DeframeResult } from './canet.js';
import { assertValidCanFrame, type CanFrame } from './frame.js';

/**
 * The socketcand ASCII protocol (linux-can/socketcand doc/protocol.md), RAW mode: everything is
 * `< word word … >`. The server greets `< hi >`, answers `< ok >` to `< open can0 >` and
 * `< rawmode >`, then reports `< frame ID SECS.USECS B0 B1 … >`; we send `< send ID DLC B0 … >`.
 * Pure: a tokenizer that resynchronises on `<`, and the frame conversions.
 */
export type SocketcandMessage = { kind: 'frame'; frame: CanFrame } | { kind: 'control'; words: string[] };

/** A command is short; anything longer without `>` is garbage and is dropped. */
export const maxSocketcandTokenChars = 256;

function fail(message: string, details: Record<string, unknown> = {}): BatteryCodecError {
  return new BatteryCodecError('MF_BATTERY_CAN_FRAME', `socketcand: ${message}`, details);
}

export function parseSocketcandToken(words: readonly string[]): SocketcandMessage {
  if (words[0] !== 'frame') return { kind: 'control', words: [...words] };
  const [, idText, , ...bytes] = words;
  if (idText === undefined || !/^[0-9A-Fa-f]{1,8}$/.test(idText))
    throw fail(`bad CAN id "${idText ?? ''}"`, { words });
  if (bytes.length > 8 || bytes.some((b) => !/^[0-9A-Fa-f]{1,2}$/.test(b))) {
    throw fail('frame data must be at most 8 hex bytes', { words });
  }
  // socketcand prints 11-bit ids with 3 digits and 29-bit ids with 8.
  const frame: CanFrame = {
    id: Number.parseInt(idText, 16),
    extended: idText.length > 3,
    data: Uint8Array.from(bytes.map((b) => Number.parseInt(b, 16))),
  };
  assertValidCanFrame(frame);
  return { kind: 'frame', frame };
}

export function formatSocketcandSend(frame: CanFrame): string {
  assertValidCanFrame(frame);
  const id = frame.id
    .toString(16)
    .toUpperCase()
    .padStart(frame.extended ? 8 : 3, '0');
  const data = [...frame.data].map((b) => b.toString(16).toUpperCase().padStart(2, '0'));
  return `< send ${[id, String(frame.data.length), ...data].join(' ')} >`;
}

export function formatSocketcandCommand(...words: string[]): string {
  return `< ${words.join(' ')} >`;
}

export class SocketcandDeframer {
  private current: string | undefined;

  push(chunk: Uint8Array): DeframeResult<SocketcandMessage>[] {
    const out: DeframeResult<SocketcandMessage>[] = [];
    for (const ch of Buffer.from(chunk).toString('latin1')) {
      if (ch === '<') {
        if (this.current !== undefined)
          out.push({ ok: false, error: fail('a "<" arrived inside an unfinished command') });
        this.current = '';
        continue;
      }
      if (this.current === undefined) continue; // between commands: whitespace or noise
      if (ch === '>') {
        const words = this.current.trim().split(/\s+/).filter(Boolean);
        this.current = undefined;
        try {
          out.push({ ok: true, message: parseSocketcandToken(words) });
        } catch (err) {
          out.push({ ok: false, error: err as BatteryCodecError });
        }
        continue;
      }
      this.current += ch;
      if (this.current.length > maxSocketcandTokenChars) {
        this.current = undefined;
        out.push({
          ok: false,
          error: fail(`command longer than ${maxSocketcandTokenChars} characters dropped`),
        });
      }
    }
    return out;
  }
}
