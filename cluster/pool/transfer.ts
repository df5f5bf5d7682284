/**
 * Moving buffers across the pool's thread boundary instead of copying them. A task returns
 * `withTransfer(value, buffers)`: the worker hands `buffers` to postMessage's transfer list,
 * so the caller receives them without a copy (the worker loses them, which is fine: it made
 * them for this result). Callers move input the same way with `run(task, { transferList })`.
 * Only whole, unshared ArrayBuffers can move; `ownedBytes` makes sure a result qualifies.
 */
const transferTag = Symbol.for('meterfabric.pool.withTransfer');

export type WithTransfer<T> = {
  readonly [transferTag]: true;
  readonly value: T;
  readonly transfer: ArrayBuffer[];
};

export function withTransfer<T>(value: T, transfer: ArrayBuffer[]): WithTransfer<T> {
  return { [transferTag]: true, value, transfer };
}

export function isWithTransfer(x: unknown): x is WithTransfer<unknown> {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[transferTag] === true;
}

const encoder = new TextEncoder();

/**
 * UTF-8 bytes of `text` in an ArrayBuffer of their own. Buffer.from would put short strings
 * into Node's shared 8 KiB slab, which cannot be transferred (and must not be: other buffers
 * live in it); TextEncoder always allocates exactly the bytes it returns.
 */
export function ownedBytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The distinct ArrayBuffers behind `views` that can move (whole buffers, not SharedArrayBuffer). */
export function transferListOf(views: readonly ArrayBufferView[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const view of views) {
    const buffer = view.buffer;
    if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength)
      out.add(buffer);
  }
  return [...out];
}
