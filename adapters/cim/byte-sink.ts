/**
 * A growable UTF-8 output buffer for encoders that write bytes directly instead of building a
 * string and converting it. One scratch buffer per thread is reused from message to message
 * (encoders are synchronous, so nothing else writes to it meanwhile); `take` copies the
 * result into an ArrayBuffer of its own that can move across threads. A buffer that grew past
 * `retainedScratchBytes` for one huge message is dropped afterwards instead of kept.
 * A sink made over a `target` (a pool task's region of a shared output arena,
 * cluster/pool/output-arena.ts) writes there instead, with no copy; a message that outgrows
 * the target continues in a buffer of its own (`inTarget` is then false).
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const initialScratchBytes = 256 * 1024;
export const retainedScratchBytes = 8 * 1024 * 1024;

let scratch: Uint8Array | undefined = new Uint8Array(initialScratchBytes);

export class ByteSink {
  buf: Uint8Array;
  pos = 0;
  private readonly target: Uint8Array | undefined;

  constructor(target?: Uint8Array) {
    this.target = target;
    if (target) {
      this.buf = target;
      return;
    }
    // Taken, not shared: a second sink alive at the same time gets a buffer of its own.
    this.buf = scratch ?? new Uint8Array(initialScratchBytes);
    scratch = undefined;
  }

  /** True while everything written is in the target given to the constructor. */
  get inTarget(): boolean {
    return this.target !== undefined && this.buf === this.target;
  }

  /** Room for `bytes` more bytes (amortised doubling). */
  ensure(bytes: number): void {
    const need = this.pos + bytes;
    if (need <= this.buf.length) return;
    let size = Math.max(this.buf.length * 2, initialScratchBytes);
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  put(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Text of any characters, as UTF-8. */
  putText(text: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    this.ensure(text.length * 3);
    this.pos += encoder.encodeInto(text, this.buf.subarray(this.pos)).written;
  }

  /** Text known to be ASCII (digits, signs, points): written char by char, no call into C++. */
  putAscii(text: string): void {
    const n = text.length;
    this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    for (let k = 0; k < n; k++) buf[pos++] = text.charCodeAt(k);
    this.pos = pos;
  }

  /**
   * A finite integer below 1e15 in magnitude, as `String(n)` writes it (-0 as "0"), without
   * making the string.
   */
  putInteger(n: number): void {
    this.ensure(17);
    const buf = this.buf;
    let pos = this.pos;
    let x = n;
    if (x < 0) {
      buf[pos++] = 45; // '-'
      x = -x;
    }
    let digits = 1;
    for (let p = 10; p <= x; p *= 10) digits++;
    pos += digits;
    for (let k = 1; k <= digits; k++) {
      const q = Math.floor(x / 10);
      buf[pos - k] = 48 + (x - q * 10);
      x = q;
    }
    this.pos = pos;
  }

  /** The bytes written, in an ArrayBuffer of their own (movable to another thread). */
  take(): Uint8Array {
    // Allocated and set rather than `slice()`d: slice took 2-2.5x as long for 220 KB messages.
    const out = new Uint8Array(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    this.release();
    return out;
  }

  /** The bytes written, as text. */
  takeText(): string {
    const out = decoder.decode(this.buf.subarray(0, this.pos));
    this.release();
    return out;
  }

  /** Done with the sink (its bytes were used in place, or the encoder failed). */
  release(): void {
    // Never keep a target (shared memory the caller owns) as this thread's scratch buffer.
    if (this.target === undefined)
      scratch = this.buf.length <= retainedScratchBytes ? this.buf : new Uint8Array(initialScratchBytes);
    this.pos = 0;
  }
}

/** UTF-8 bytes of a constant or per-message fragment, for `ByteSink.put`. */
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}
