import { KnxError, type KnxErrorCode } from './errors.js';

/**
 * A bounds-checked cursor over a datagram: every read past the end becomes a typed
 * MF_KNX_FRAME_TRUNCATED error naming the structure being read, never a RangeError.
 */
export class ByteReader {
  private offset: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.offset = start;
  }

  get position(): number {
    return this.offset;
  }
  get remaining(): number {
    return this.end - this.offset;
  }

  need(count: number, what: string): void {
    if (this.offset + count > this.end) {
      throw new KnxError(
        'MF_KNX_FRAME_TRUNCATED',
        `frame truncated: ${what} needs ${count} octet(s) at offset ${this.offset}, only ${this.remaining} left`,
        { what, offset: this.offset, needed: count, remaining: this.remaining },
      );
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const value = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return value;
  }
  take(count: number, what: string): Uint8Array {
    this.need(count, what);
    const slice = this.bytes.slice(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }
  expectEnd(what: string, code: KnxErrorCode = 'MF_KNX_STRUCTURE'): void {
    if (this.remaining !== 0) {
      throw new KnxError(code, `${what}: ${this.remaining} unexpected trailing octet(s)`, {
        what,
        trailing: this.remaining,
      });
    }
  }
}

/** A growable writer; frames are small, so a plain number array is fast enough and simple. */
export class ByteWriter {
  private readonly out: number[] = [];
  u8(value: number): this {
    this.out.push(value & 0xff);
    return this;
  }
  u16(value: number): this {
    this.out.push((value >> 8) & 0xff, value & 0xff);
    return this;
  }
  bytes(values: ArrayLike<number>): this {
    for (let i = 0; i < values.length; i++) this.out.push(values[i]! & 0xff);
    return this;
  }
  get length(): number {
    return this.out.length;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export function toHex(bytes: Uint8Array, separator = ''): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(separator);
}

/** Parses hex with optional spaces, colons or a 0x prefix; rejects anything else clearly. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) {
    throw new KnxError('MF_KNX_STRUCTURE', `"${text}" is not an even-length hex string`, { text });
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}
