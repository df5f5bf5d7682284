import type { PublishedMessage } from '../cim-message.js';

/**
 * A PublishedMessage (protos/headend.proto) on the wire, written straight from the message's
 * UTF-8 bytes: the generic serializer takes the XML only as a string, which would mean decoding
 * every message and encoding it again per subscriber. Same bytes as protobufjs writes for
 * `{ position, noun, messageId, correlationId, xml }` (every field, in field order, empty strings
 * included); test/cim/grpc-published-wire.test.ts compares the two.
 */
export function encodePublishedMessageWire(m: PublishedMessage): Buffer {
  const noun = Buffer.from(m.noun, 'utf8');
  const messageId = Buffer.from(m.messageId, 'utf8');
  const correlationId = Buffer.from(m.correlationId ?? '', 'utf8');
  const fields: [number, Uint8Array][] = [
    [0x12, noun],
    [0x1a, messageId],
    [0x22, correlationId],
    [0x2a, m.bytes],
  ];
  let size = 1 + varintSize(m.position);
  for (const [, bytes] of fields) size += 1 + varintSize(bytes.byteLength) + bytes.byteLength;
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x08; // field 1 (position), varint
  let pos = writeVarint(out, 1, m.position);
  for (const [tag, bytes] of fields) {
    out[pos++] = tag; // field n, length-delimited
    pos = writeVarint(out, pos, bytes.byteLength);
    out.set(bytes, pos);
    pos += bytes.byteLength;
  }
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  for (let x = n; x >= 128; x = Math.floor(x / 128)) size++;
  return size;
}

/** An unsigned safe integer as a protobuf varint (arithmetic, not bit operators: positions exceed 2^32). */
function writeVarint(out: Buffer, at: number, n: number): number {
  let pos = at;
  let x = n;
  while (x >= 128) {
    out[pos++] = (x % 128) | 0x80;
    x = Math.floor(x / 128);
  }
  out[pos++] = x;
  return pos;
}
