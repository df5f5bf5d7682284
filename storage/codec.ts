/** How a collection turns values into bytes; JSON unless a collection is given another. */
export type ValueCodec<T> = { encode(value: T): Uint8Array; decode(bytes: Uint8Array): T };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function jsonCodec<T>(): ValueCodec<T> {
  return {
    encode: (value) => encoder.encode(JSON.stringify(value)),
    decode: (bytes) => JSON.parse(decoder.decode(bytes)) as T,
  };
}

/** Fixed-width hex sequence numbers sort in numeric order as keys. */
export function seqKey(seq: number): string {
  return seq.toString(16).padStart(13, '0');
}

export function seqOfKey(key: string): number {
  return Number.parseInt(key.slice(key.length - 13), 16);
}
