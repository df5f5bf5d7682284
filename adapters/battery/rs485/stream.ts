import type { DeframeResult } from '../can/canet.js';
import { BatteryCodecError } from '../errors.js';
import { decodeRs485Frame, maxFrameChars, type Rs485Frame } from './frame.js';

/**
 * Splits an RS485 byte stream into frames. Resynchronisation rule: a frame starts at `~` and ends
 * at CR; bytes before a `~` are line noise (reported once per run); a `~` inside an unfinished
 * frame means the previous frame was cut short (reported as truncated) and a new one starts; a
 * frame longer than the protocol allows is dropped. Each complete frame is checked by
 * decodeRs485Frame, so a bad checksum costs exactly that frame and the next one decodes.
 */
export class Rs485Deframer {
  private current: string | undefined;
  private noiseChars = 0;
  private overflowed = false;

  push(chunk: Uint8Array | string): DeframeResult<Rs485Frame>[] {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1');
    const out: DeframeResult<Rs485Frame>[] = [];
    for (const ch of text) {
      if (ch === '~') {
        if (this.current !== undefined) {
          out.push({
            ok: false,
            error: new BatteryCodecError(
              'MF_BATTERY_RS485_TRUNCATED',
              'RS485 frame cut short: a new "~" arrived before CR; the partial frame was dropped',
              { partial: this.current.slice(0, 32) },
            ),
          });
        }
        this.flushNoise(out);
        this.current = '~';
        this.overflowed = false;
        continue;
      }
      if (this.current === undefined) {
        if (ch !== '\r' && ch !== '\n') this.noiseChars++;
        continue;
      }
      if (ch === '\r') {
        const frameText = this.current;
        this.current = undefined;
        if (this.overflowed) continue;
        try {
          out.push({ ok: true, message: decodeRs485Frame(frameText) });
        } catch (err) {
          out.push({ ok: false, error: err as BatteryCodecError });
        }
        continue;
      }
      if (this.overflowed) continue;
      if (this.current.length >= maxFrameChars) {
        this.overflowed = true;
        out.push({
          ok: false,
          error: new BatteryCodecError(
            'MF_BATTERY_RS485_TOO_LONG',
            `RS485 frame exceeds ${maxFrameChars} characters without CR; dropped until the next "~"`,
          ),
        });
        continue;
      }
      this.current += ch;
    }
    return out;
  }

  private flushNoise(out: DeframeResult<Rs485Frame>[]): void {
    if (this.noiseChars === 0) return;
    out.push({
      ok: false,
      error: new BatteryCodecError(
        'MF_BATTERY_RS485_SOI',
        `${this.noiseChars} characters of line noise before "~" were skipped`,
        {
          skippedChars: this.noiseChars,
        },
      ),
    });
    this.noiseChars = 0;
  }
}
