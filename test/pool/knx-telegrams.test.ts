import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../adapters/knx/bytes.js';
import {
  decodeFrames,
  decodeTelegramColumns,
  packFrames,
  type TelegramColumns,
  type TelegramView,
  telegramAt,
  telegramViewOf,
} from '../../adapters/knx/pool-tasks.js';
import { type PoolMode, WorkerPool } from '../../cluster/pool/pool.js';

// Frames from the KNXnet/IP reference (as in bench/knx.bench.ts): tunnelling with a group
// write, tunnelling ACK, routing indications with short and long data, search/description.
const golden = [
  '06 10 04 20 00 15 04 01 17 00 11 00 BC E0 00 00 48 08 01 00 81',
  '06 10 04 21 00 0A 04 2A 17 00',
  '06 10 05 30 00 15 29 00 BC D0 12 02 01 51 05 00 80 12 34 56 78',
  '06 10 04 20 00 19 04 01 00 00 29 00 BC D0 11 FC 29 15 05 00 80 45 9C 40 00',
  '06 10 02 06 00 14 01 00 08 01 C0 A8 2A 0A 0E 57 04 04 11 FF',
  '06 10 02 08 00 08 01 00',
].map(fromHex);

/** Golden frames, the same with a byte changed or cut short, and random bytes. */
const datagram = fc.oneof(
  fc.constantFrom(...golden),
  fc.tuple(fc.constantFrom(...golden), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([g, at, byte]) => {
    const d = Uint8Array.from(g);
    d[at % d.length] = byte;
    return d;
  }),
  fc.tuple(fc.constantFrom(...golden), fc.nat()).map(([g, n]) => g.slice(0, n % (g.length + 1))),
  fc.uint8Array({ maxLength: 40 }),
);

function expected(d: Uint8Array): TelegramView {
  const [r] = decodeFrames([d]);
  return r!.ok ? telegramViewOf(r!.frame) : { ok: false, code: r!.code, message: r!.message };
}

function views(c: TelegramColumns): TelegramView[] {
  return Array.from({ length: c.count }, (_, i) => telegramAt(c, i));
}

for (const mode of ['inline', 'workers'] as PoolMode[])
  describe(`KNX frames decoded to columns (${mode})`, () => {
    const pool = new WorkerPool({ mode, threads: 2 });
    afterAll(() => pool.close());

    it('holds for every frame what decodeFrame gives for it, errors in their own slot (property)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(datagram, { maxLength: 30 }), async (datagrams) => {
          const packed = packFrames(datagrams);
          const c = await pool.run<TelegramColumns>(
            { module: 'adapters/knx/pool-tasks', fn: 'decodeTelegramColumns', payload: packed },
            { transferList: [packed.bytes.buffer as ArrayBuffer] },
          );
          expect(c.count).toBe(datagrams.length);
          expect(views(c)).toEqual(datagrams.map(expected));
          expect(packed.bytes.byteLength).toBe(0);
        }),
        { numRuns: mode === 'inline' ? 200 : 30 },
      );
    }, 120_000);
  });

describe('KNX telegram columns', () => {
  it('decodes a full task of 10,000 frames and refuses more with MF_KNX_BATCH_TOO_LARGE', () => {
    const frames = Array.from({ length: 10_000 }, (_, i) => golden[i % golden.length]!);
    const c = decodeTelegramColumns(packFrames(frames)).value;
    expect(views(c)).toEqual(frames.map(expected));
    expect(() => decodeTelegramColumns(packFrames([...frames, golden[0]!]))).toThrow(
      expect.objectContaining({ code: 'MF_KNX_BATCH_TOO_LARGE' }),
    );
  });

  it('keeps the group write of a tunnelling request: addresses, service and value bits', () => {
    const c = decodeTelegramColumns(packFrames([golden[0]!, golden[2]!])).value;
    expect(telegramAt(c, 0)).toMatchObject({
      ok: true,
      service: 'TUNNELLING_REQUEST',
      channelId: 1,
      sequence: 23,
      ldata: {
        groupDestination: true,
        groupService: 'GroupValue_Write',
        source: 0,
        destination: 0x4808,
        shortData: 1,
      },
    });
    expect(telegramAt(c, 1)).toMatchObject({
      ok: true,
      service: 'ROUTING_INDICATION',
      ldata: {
        source: 0x1202,
        destination: 0x0151,
        groupService: 'GroupValue_Write',
        data: [0x12, 0x34, 0x56, 0x78],
      },
    });
  });

  it('refuses a payload without bytes and lengths with a typed error', () => {
    expect(() => decodeTelegramColumns({ bytes: [1, 2] as never, lengths: [2] })).toThrow(
      expect.objectContaining({ code: 'MF_KNX_FRAME_LENGTH' }),
    );
  });
});
