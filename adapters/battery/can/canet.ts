import { BatteryCodecError } from '../errors.js';
import { assertValidCanFrame, type CanFrame, maxExtendedId, maxStandardId } from './frame.js';

/**
 * The 13-byte "CANET" TCP wire format of USR/Waveshare-style CAN-to-Ethernet gateways
 * (reference §5): byte 0 = [b7 extended, b6 RTR, b3..0 DLC], bytes 1–4 = id u32 big-endian,
 * bytes 5–12 = data padded to 8. It has no sync marker, so a stream recovers from garbage by
 * rejecting impossible headers (reserved bits set, DLC > 8, id too wide) one byte at a time.
 */
export const canetFrameBytes = 13;

export function encodeCanet(frame: CanFrame): Uint8Array {
  assertValidCanFrame(frame);
  const out = new Uint8Array(canetFrameBytes);
  out[0] = (frame.extended ? 0x80 : 0) | frame.data.length;
  out[1] = (frame.id >>> 24) & 0xff;
  out[2] = (frame.id >>> 16) & 0xff;
  out[3] = (frame.id >>> 8) & 0xff;
  out[4] = frame.id & 0xff;
  out.set(frame.data, 5);
  return out;
}

/** Why a 13-byte window is not a CANET frame, or undefined when it is plausible. */
function headerProblem(bytes: Uint8Array, offset: number): string | undefined {
  const info = bytes[offset]!;
  if (info & 0x30) return `reserved bits 0x${(info & 0x30).toString(16)} set in the info byte`;
  if (info & 0x40) return 'remote (RTR) frames are not used by battery protocols';
  const dlc = info & 0x0f;
  if (dlc > 8) return `DLC ${dlc} > 8`;
  const id =
    ((bytes[offset + 1]! << 24) |
      (bytes[offset + 2]! << 16) |
      (bytes[offset + 3]! << 8) |
      bytes[offset + 4]!) >>>
    0;
  const extended = (info & 0x80) !== 0;
  if (id > (extended ? maxExtendedId : maxStandardId)) return `id 0x${id.toString(16)} too wide`;
  return undefined;
}

export function decodeCanet(bytes: Uint8Array, offset = 0): CanFrame {
  if (bytes.length - offset < canetFrameBytes) {
    throw new BatteryCodecError(
      'MF_BATTERY_CAN_FRAME',
      `CANET frame needs 13 bytes, got ${bytes.length - offset}`,
    );
  }
  const problem = headerProblem(bytes, offset);
  if (problem) throw new BatteryCodecError('MF_BATTERY_CAN_FRAME', `not a CANET frame: ${problem}`);
  const info = bytes[offset]!;
  const id =
    ((bytes[offset + 1]! << 24) |
      (bytes[offset + 2]! << 16) |
      (bytes[offset + 3]! << 8) |
      bytes[offset + 4]!) >>>
    0;
  const dlc = info & 0x0f;
  return { id, extended: (info & 0x80) !== 0, data: bytes.slice(offset + 5, offset + 5 + dlc) };
}

export type DeframeResult<M> = { ok: true; message: M } | { ok: false; error: BatteryCodecError };

/** Splits a TCP byte stream into CAN frames; bounded: keeps at most one partial frame. */
export class CanetDeframer {
  private pending: Uint8Array = new Uint8Array(0);
  /** Bytes skipped since the last good frame; reported once per garbage run. */
  private skippedBytes = 0;

  push(chunk: Uint8Array): DeframeResult<CanFrame>[] {
    const buf = new Uint8Array(this.pending.length + chunk.length);
    buf.set(this.pending, 0);
    buf.set(chunk, this.pending.length);
    const out: DeframeResult<CanFrame>[] = [];
    let offset = 0;
    while (buf.length - offset >= canetFrameBytes) {
      const problem = headerProblem(buf, offset);
      if (problem) {
        if (this.skippedBytes === 0) {
          out.push({
            ok: false,
            error: new BatteryCodecError(
              'MF_BATTERY_CAN_FRAME',
              `CANET stream out of step (${problem}); skipping bytes until a valid header`,
              { offendingByte: buf[offset] },
            ),
          });
        }
        this.skippedBytes++;
        offset++;
        continue;
      }
      this.skippedBytes = 0;
      out.push({ ok: true, message: decodeCanet(buf, offset) });
      offset += canetFrameBytes;
    }
    this.pending = buf.slice(offset);
    return out;
  }
}
