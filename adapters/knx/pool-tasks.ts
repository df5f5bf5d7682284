import { isKnxError, KnxError } from './errors.js';
import { decodeFrame, type KnxFrame } from './frame.js';

/**
 * Batch tasks for the node's worker pool (cluster/pool): pure, structured-clone-able input and
 * output. A malformed frame yields an error entry in its slot instead of failing the batch, so
 * one bad datagram never costs the others.
 */

export type DecodeResult = { ok: true; frame: KnxFrame } | { ok: false; code: string; message: string };

/** Upper bound of frames in one task (keeps a task's latency and memory bounded). */
export const MAX_FRAMES_PER_TASK = 10_000;

export function decodeFrames(datagrams: Uint8Array[]): DecodeResult[] {
  if (datagrams.length > MAX_FRAMES_PER_TASK) {
    throw new KnxError(
      'MF_KNX_BATCH_TOO_LARGE',
      `decodeFrames takes at most ${MAX_FRAMES_PER_TASK} frames per task, got ${datagrams.length}; split the batch`,
    );
  }
  return datagrams.map((bytes) => {
    try {
      return { ok: true, frame: decodeFrame(bytes) };
    } catch (err) {
      if (isKnxError(err)) return { ok: false, code: err.code, message: err.message };
      return { ok: false, code: 'MF_KNX_STRUCTURE', message: String(err) };
    }
  });
}

/**
 * The same for many datagrams packed into one buffer (`lengths` gives each one's size): one
 * ArrayBuffer crosses the thread boundary instead of one per datagram.
 */
export function decodePackedFrames(payload: { bytes: Uint8Array; lengths: number[] }): DecodeResult[] {
  const { bytes, lengths } = payload;
  if (lengths.length > MAX_FRAMES_PER_TASK) {
    throw new KnxError(
      'MF_KNX_BATCH_TOO_LARGE',
      `decodePackedFrames takes at most ${MAX_FRAMES_PER_TASK} frames`,
    );
  }
  const datagrams: Uint8Array[] = [];
  let offset = 0;
  for (const length of lengths) {
    // A negative or fractional length would move the offset backwards and misalign every later frame.
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new KnxError(
        'MF_KNX_FRAME_LENGTH',
        `packed frame length ${length} is not a non-negative integer`,
      );
    }
    if (offset + length > bytes.length) {
      throw new KnxError('MF_KNX_FRAME_TRUNCATED', 'packed frame lengths run past the buffer');
    }
    datagrams.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  return decodeFrames(datagrams);
}

/** Packs datagrams for decodePackedFrames. */
export function packFrames(datagrams: readonly Uint8Array[]): { bytes: Uint8Array; lengths: number[] } {
  const lengths = datagrams.map((d) => d.length);
  const bytes = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
  let offset = 0;
  for (const d of datagrams) {
    bytes.set(d, offset);
    offset += d.length;
  }
  return { bytes, lengths };
}
