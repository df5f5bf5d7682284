import { isMeterfabricError } from '../../core/errors.js';
import { canetFrameBytes, decodeCanet } from './can/canet.js';
import { decodeCanFrame } from './can/decode.js';
import type { CanFrame } from './can/frame.js';
import type { DecodedCan } from './can/types.js';
import { decodeRs485Frame, type Rs485Frame } from './rs485/frame.js';

/**
 * Batch decoders for the worker pool (cluster/pool): pure, structured-clone-able in and out,
 * an array in and an array out, one result per input in the same order. A bad frame yields
 * its typed error as data and never fails the batch.
 */
export type BatchError = { code: string; message: string };
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: BatchError };

/** Bound on one task's batch so a caller cannot pin a worker with an unbounded array. */
export const maxBatchFrames = 100_000;

function asError(err: unknown): BatchError {
  if (isMeterfabricError(err)) return { code: err.code, message: err.message };
  throw err;
}

function checkBatch(length: number): void {
  if (length > maxBatchFrames) {
    throw new RangeError(`battery pool batch of ${length} frames exceeds ${maxBatchFrames}; split it`);
  }
}

export function decodeCanFrames(frames: readonly CanFrame[]): BatchResult<DecodedCan>[] {
  checkBatch(frames.length);
  return frames.map((frame) => {
    try {
      return { ok: true, value: decodeCanFrame(frame) };
    } catch (err) {
      return { ok: false, error: asError(err) };
    }
  });
}

export function decodeRs485Frames(texts: readonly string[]): BatchResult<Rs485Frame>[] {
  checkBatch(texts.length);
  return texts.map((text) => {
    try {
      return { ok: true, value: decodeRs485Frame(text) };
    } catch (err) {
      return { ok: false, error: asError(err) };
    }
  });
}

/**
 * The same as decodeCanFrames for frames packed as consecutive 13-byte CANET records: one
 * buffer crosses to the worker instead of thousands of small objects.
 */
export function decodeCanetRecords(bytes: Uint8Array): BatchResult<DecodedCan>[] {
  checkBatch(Math.floor(bytes.length / canetFrameBytes));
  const out: BatchResult<DecodedCan>[] = [];
  for (let offset = 0; offset + canetFrameBytes <= bytes.length; offset += canetFrameBytes) {
    try {
      out.push({ ok: true, value: decodeCanFrame(decodeCanet(bytes, offset)) });
    } catch (err) {
      out.push({ ok: false, error: asError(err) });
    }
  }
  return out;
}
