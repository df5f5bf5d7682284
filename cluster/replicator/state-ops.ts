import { MeterfabricError } from '../../core/errors.js';

/**
 * What a replicated operation means: one mutation of the partition's key-value state. The
 * replicator applies the operations of a transaction in order, in one atomic batch, on
 * every replica; reliable collections and the actor persistence engine build on that.
 * Encoding: [kind u8][key length u32 BE][key UTF-8][value bytes (put only)].
 */
export type StateOp = { kind: 'put'; key: string; value: Uint8Array } | { kind: 'del'; key: string };

/** Keys are bounded so one bad caller cannot bloat every replica's log. */
export const MAX_STATE_KEY_BYTES = 1024;
export const MAX_STATE_VALUE_BYTES = 4 * 1024 * 1024;

const PUT = 1;
const DEL = 2;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class StateOpError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_STATE_OP_INVALID', message, details);
    this.name = 'StateOpError';
  }
}

export function encodeStateOp(op: StateOp): Uint8Array {
  const key = encoder.encode(op.key);
  if (key.length === 0 || key.length > MAX_STATE_KEY_BYTES) {
    throw new StateOpError(`state key must be 1..${MAX_STATE_KEY_BYTES} bytes, got ${key.length}`);
  }
  const valueLength = op.kind === 'put' ? op.value.length : 0;
  if (valueLength > MAX_STATE_VALUE_BYTES) {
    throw new StateOpError(`state value of ${valueLength} bytes exceeds ${MAX_STATE_VALUE_BYTES}`, {
      key: op.key,
    });
  }
  const out = new Uint8Array(5 + key.length + valueLength);
  out[0] = op.kind === 'put' ? PUT : DEL;
  new DataView(out.buffer).setUint32(1, key.length);
  out.set(key, 5);
  if (op.kind === 'put') out.set(op.value, 5 + key.length);
  return out;
}

/**
 * `encodeStateOp` of a put whose value is `text` in UTF-8, written straight into the
 * operation (no intermediate encoded copy, no zero-fill): the same bytes. `valueBytes` is
 * `Buffer.byteLength(text)` when the caller has it already.
 */
export function encodeStatePutText(
  key: string,
  text: string,
  valueBytes: number = Buffer.byteLength(text),
): Uint8Array {
  const keyBytes = Buffer.byteLength(key);
  if (keyBytes === 0 || keyBytes > MAX_STATE_KEY_BYTES) {
    throw new StateOpError(`state key must be 1..${MAX_STATE_KEY_BYTES} bytes, got ${keyBytes}`);
  }
  if (valueBytes > MAX_STATE_VALUE_BYTES) {
    throw new StateOpError(`state value of ${valueBytes} bytes exceeds ${MAX_STATE_VALUE_BYTES}`, { key });
  }
  // Its own ArrayBuffer (not the shared pool): readers take views of `.buffer` at offset 0.
  const out = Buffer.allocUnsafeSlow(5 + keyBytes + valueBytes);
  out[0] = PUT;
  out.writeUInt32BE(keyBytes, 1);
  out.write(key, 5, 'utf8');
  out.write(text, 5 + keyBytes, 'utf8');
  return out;
}

export function decodeStateOp(bytes: Uint8Array): StateOp {
  if (bytes.length < 5) throw new StateOpError(`state operation of ${bytes.length} bytes is truncated`);
  const kind = bytes[0];
  const keyLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  if (keyLength === 0 || keyLength > MAX_STATE_KEY_BYTES || 5 + keyLength > bytes.length) {
    throw new StateOpError(`state operation has an invalid key length ${keyLength}`);
  }
  const key = decoder.decode(bytes.subarray(5, 5 + keyLength));
  // A view, not a copy: operations are never mutated once encoded, and the one consumer
  // (PartitionStore.apply) hands the value to leveldb, which copies it into its batch.
  if (kind === PUT) return { kind: 'put', key, value: bytes.subarray(5 + keyLength) };
  if (kind === DEL) {
    if (bytes.length !== 5 + keyLength) throw new StateOpError('delete operation carries a value');
    return { kind: 'del', key };
  }
  throw new StateOpError(`unknown state operation kind ${kind}`);
}
