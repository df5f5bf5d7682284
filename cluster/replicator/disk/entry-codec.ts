import { MeterfabricError } from '../../../core/errors.js';

/**
 * On-disk value of one log entry: [epoch f64 BE][op count u32][per op: length u32, bytes].
 * The LSN is the key. Corruption is reported, never guessed through.
 */
export function encodeEntryValue(epoch: number, ops: readonly Uint8Array[]): Uint8Array {
  let size = 12;
  for (const op of ops) size += 4 + op.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setFloat64(0, epoch);
  view.setUint32(8, ops.length);
  let at = 12;
  for (const op of ops) {
    view.setUint32(at, op.length);
    out.set(op, at + 4);
    at += 4 + op.length;
  }
  return out;
}

export function decodeEntryValue(bytes: Uint8Array): { epoch: number; ops: Uint8Array[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string) =>
    new MeterfabricError('MF_LOG_CORRUPT', `replica log entry is corrupt: ${why}`);
  if (bytes.length < 12) throw fail('shorter than its header');
  const epoch = view.getFloat64(0);
  const count = view.getUint32(8);
  const ops: Uint8Array[] = [];
  let at = 12;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw fail('operation header past the end');
    const length = view.getUint32(at);
    if (at + 4 + length > bytes.length) throw fail('operation past the end');
    ops.push(bytes.slice(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (at !== bytes.length) throw fail('trailing bytes');
  return { epoch, ops };
}
