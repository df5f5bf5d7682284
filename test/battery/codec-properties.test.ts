import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CanetDeframer, encodeCanet } from '../../adapters/battery/can/canet.js';
import { decodeCanFrame } from '../../adapters/battery/can/decode.js';
import type { CanFrame } from '../../adapters/battery/can/frame.js';
import { BatteryCodecError } from '../../adapters/battery/errors.js';
import { decodeRs485Frame, encodeRs485Frame, type Rs485Frame } from '../../adapters/battery/rs485/frame.js';
import { Rs485Deframer } from '../../adapters/battery/rs485/stream.js';

const rs485Frame = fc.record({
  ver: fc.integer({ min: 0, max: 255 }),
  adr: fc.integer({ min: 0, max: 255 }),
  cid1: fc.integer({ min: 0, max: 255 }),
  cid2: fc.integer({ min: 0, max: 255 }),
  info: fc.uint8Array({ maxLength: 200 }),
});

const canFrame = fc.oneof(
  fc.record({
    id: fc.integer({ min: 0x300, max: 0x36f }),
    extended: fc.constant(false),
    data: fc.uint8Array({ maxLength: 8 }),
  }),
  fc.record({
    id: fc.integer({ min: 0, max: 0x1fffffff }),
    extended: fc.constant(true),
    data: fc.uint8Array({ maxLength: 8 }),
  }),
);

function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  return out;
}

describe('RS485 codec properties', () => {
  it('encode → decode round-trips any frame (LENGTH checksum included)', () => {
    fc.assert(
      fc.property(rs485Frame, (frame) => {
        expect(decodeRs485Frame(encodeRs485Frame(frame))).toEqual(frame);
      }),
    );
  });

  it('any single-character corruption between ~ and CR is rejected with a typed error', () => {
    fc.assert(
      fc.property(rs485Frame, fc.nat(), fc.constantFrom(...'0123456789ABCDEFG'), (frame, at, ch) => {
        const text = encodeRs485Frame(frame);
        const index = 1 + (at % (text.length - 2));
        fc.pre(text[index] !== ch);
        const corrupted = text.slice(0, index) + ch + text.slice(index + 1);
        expect(() => decodeRs485Frame(corrupted)).toThrow(BatteryCodecError);
      }),
    );
  });

  it('the deframer yields the same frames however the stream is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(rs485Frame, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (frames, cuts) => {
          const stream = Buffer.from(frames.map(encodeRs485Frame).join(''), 'latin1');
          const deframer = new Rs485Deframer();
          const out: Rs485Frame[] = [];
          for (const chunk of chunked(stream, cuts))
            for (const r of deframer.push(chunk)) if (r.ok) out.push(r.message);
          expect(out).toEqual(frames);
        },
      ),
    );
  });

  it('random bytes never crash the deframer: only frames or typed errors come out', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
        for (const r of new Rs485Deframer().push(bytes))
          if (!r.ok) expect(r.error).toBeInstanceOf(BatteryCodecError);
      }),
    );
  });
});

describe('CAN codec properties', () => {
  it('any classic frame decodes or fails with a BatteryCodecError, never anything else', () => {
    fc.assert(
      fc.property(canFrame, (frame: CanFrame) => {
        try {
          decodeCanFrame(frame);
        } catch (err) {
          expect(err).toBeInstanceOf(BatteryCodecError);
        }
      }),
    );
  });

  it('CANET: frames survive any chunking, and random garbage never crashes the deframer', () => {
    fc.assert(
      fc.property(
        fc.array(canFrame, { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (frames, cuts) => {
          const stream = Buffer.concat(frames.map(encodeCanet));
          const deframer = new CanetDeframer();
          const out: CanFrame[] = [];
          for (const chunk of chunked(stream, cuts))
            for (const r of deframer.push(chunk)) if (r.ok) out.push(r.message);
          expect(out).toEqual(frames);
        },
      ),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const r of new CanetDeframer().push(bytes))
          if (!r.ok) expect(r.error).toBeInstanceOf(BatteryCodecError);
      }),
    );
  });
});
