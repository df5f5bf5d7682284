import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../adapters/knx/bytes.js';
import { decodeCemi, encodeCemi, groupTelegram } from '../../adapters/knx/cemi.js';
import { decodeDpt, encodeDpt } from '../../adapters/knx/dpt.js';
import { decodeFrame, encodeFrame } from '../../adapters/knx/frame.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

const TUNNEL_REQ = '06 10 04 20 00 15 04 01 17 00 11 00 BC E0 00 00 48 08 01 00 81';

describe('KNXnet/IP decoder rejects malformed frames with a typed error', () => {
  it('a datagram shorter than the header is MF_KNX_FRAME_TRUNCATED', () => {
    expect(codeOf(() => decodeFrame(fromHex('06 10 04')))).toBe('MF_KNX_FRAME_TRUNCATED');
  });

  it('a frame cut short of its declared total length is MF_KNX_FRAME_TRUNCATED', () => {
    const bytes = fromHex(TUNNEL_REQ);
    for (let cut = 6; cut < bytes.length; cut++) {
      expect(codeOf(() => decodeFrame(bytes.subarray(0, cut)))).toBe('MF_KNX_FRAME_TRUNCATED');
    }
  });

  it('a wrong header length or protocol version is MF_KNX_FRAME_HEADER', () => {
    expect(codeOf(() => decodeFrame(fromHex('07 10 04 21 00 0A 04 2A 17 00 00')))).toBe(
      'MF_KNX_FRAME_HEADER',
    );
    expect(codeOf(() => decodeFrame(fromHex('06 20 04 21 00 0A 04 2A 17 00')))).toBe('MF_KNX_FRAME_HEADER');
  });

  it('a total length below the header size is MF_KNX_FRAME_LENGTH', () => {
    expect(codeOf(() => decodeFrame(fromHex('06 10 04 21 00 04 04 2A 17 00')))).toBe('MF_KNX_FRAME_LENGTH');
  });

  it('an unknown service type is MF_KNX_UNKNOWN_SERVICE', () => {
    expect(codeOf(() => decodeFrame(fromHex('06 10 04 99 00 0A 04 2A 17 00')))).toBe(
      'MF_KNX_UNKNOWN_SERVICE',
    );
    expect(codeOf(() => decodeFrame(fromHex('06 10 09 50 00 06')))).toBe('MF_KNX_UNKNOWN_SERVICE');
  });

  it('a wrong connection header, HPAI or CRI structure length is MF_KNX_STRUCTURE', () => {
    expect(codeOf(() => decodeFrame(fromHex('06 10 04 21 00 0A 05 2A 17 00')))).toBe('MF_KNX_STRUCTURE');
    expect(codeOf(() => decodeFrame(fromHex('06 10 02 07 00 10 15 00 07 01 C0 A8 C8 0C C3 B4')))).toBe(
      'MF_KNX_STRUCTURE',
    );
    const badCri = '06 10 02 05 00 1A 08 01 C0 A8 2A 01 84 95 08 01 C0 A8 2A 01 CC A9 05 04 02 00';
    expect(codeOf(() => decodeFrame(fromHex(badCri)))).toBe('MF_KNX_STRUCTURE');
  });

  it('trailing octets inside a body (total length says more than the structures hold) are MF_KNX_STRUCTURE', () => {
    expect(codeOf(() => decodeFrame(fromHex('06 10 04 21 00 0B 04 2A 17 00 FF')))).toBe('MF_KNX_STRUCTURE');
  });

  it('octets beyond the total length are ignored as padding', () => {
    expect(decodeFrame(fromHex('06 10 04 21 00 0A 04 2A 17 00 FF FF'))).toMatchObject({
      service: 'TUNNELLING_ACK',
    });
  });

  it('a positive CONNECT_RESPONSE without HPAI and CRD is truncated (only error responses may be short)', () => {
    expect(codeOf(() => decodeFrame(fromHex('06 10 02 06 00 08 01 00')))).toBe('MF_KNX_FRAME_TRUNCATED');
  });

  it('a ROUTING_BUSY without its control field (4-octet structure) is tolerated', () => {
    expect(decodeFrame(fromHex('06 10 05 32 00 0A 04 00 00 32'))).toEqual({
      service: 'ROUTING_BUSY',
      deviceState: 0,
      waitTimeMs: 50,
      control: 0,
    });
  });

  it('a cEMI whose length octet disagrees with the TPDU is MF_KNX_CEMI', () => {
    expect(codeOf(() => decodeCemi(fromHex('29 00 BC D0 11 FC 0A 03 02 00 81')))).toBe('MF_KNX_CEMI');
    expect(codeOf(() => decodeCemi(fromHex('29 00 BC D0 11 FC 0A 03 01 00 81 00')))).toBe('MF_KNX_CEMI');
  });

  it('a standard cEMI frame with more than 15 data octets is MF_KNX_CEMI', () => {
    const hex = `29 00 BC D0 11 FC 0A 03 10 00 80 ${'00 '.repeat(15)}`;
    expect(codeOf(() => decodeCemi(fromHex(hex)))).toBe('MF_KNX_CEMI');
  });

  it('additional info overrunning addIL is MF_KNX_CEMI', () => {
    expect(codeOf(() => decodeCemi(fromHex('29 03 04 05 12 BC D0 11 FC 0A 03 01 00 81')))).toBe(
      'MF_KNX_CEMI',
    );
  });

  it('a datagram above 512 octets is MF_KNX_FRAME_TOO_LARGE', () => {
    const big = new Uint8Array(600);
    big.set(fromHex('06 10 04 21 02 58'));
    expect(codeOf(() => decodeFrame(big))).toBe('MF_KNX_FRAME_TOO_LARGE');
  });

  it('random bytes never throw anything but a KnxError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        const prefixed = new Uint8Array([0x06, 0x10, 0x04, 0x20, 0x00, bytes.length + 6, ...bytes]);
        for (const candidate of [bytes, prefixed]) {
          try {
            decodeFrame(candidate);
          } catch (err) {
            expect((err as Error).name).toBe('KnxError');
          }
        }
      }),
    );
  });
});

describe('round-trip properties', () => {
  it('every DPT 9 raw value except 7FFF decodes and re-encodes to a value within half a step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (raw) => {
        fc.pre(raw !== 0x7fff);
        const v = decodeDpt('9.001', { data: Uint8Array.of(raw >> 8, raw & 0xff) }) as number;
        const back = decodeDpt('9.001', encodeDpt('9.001', v)) as number;
        const exponent = (raw >> 11) & 0x0f;
        expect(Math.abs(back - v)).toBeLessThanOrEqual(0.01 * 2 ** exponent * 0.5 + 1e-9);
      }),
    );
  });

  it('group telegrams re-encode byte-identical through a TUNNELLING_REQUEST', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ minLength: 1, maxLength: 14 }),
        fc.integer({ min: 0, max: 255 }),
        (destination, data, sequence) => {
          const cemi = groupTelegram('GroupValue_Write', destination, { data });
          const bytes = encodeFrame({ service: 'TUNNELLING_REQUEST', channelId: 7, sequence, cemi });
          expect(decodeFrame(bytes)).toEqual({ service: 'TUNNELLING_REQUEST', channelId: 7, sequence, cemi });
          expect(encodeCemi(decodeCemi(encodeCemi(cemi)))).toEqual(encodeCemi(cemi));
        },
      ),
    );
  });
});
