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
