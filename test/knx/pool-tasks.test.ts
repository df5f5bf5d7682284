import { afterAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../adapters/knx/bytes.js';
import {
  type DecodeResult,
  decodeFrames,
  decodePackedFrames,
  packFrames,
} from '../../adapters/knx/pool-tasks.js';
import { WorkerPool } from '../../cluster/pool/pool.js';

const F14 = fromHex('06 10 04 21 00 0A 04 2A 17 00');
const F17 = fromHex('06 10 05 30 00 15 29 00 BC D0 12 02 01 51 05 00 80 12 34 56 78');
const TRUNCATED = fromHex('06 10 04 20 00 15 04');

describe('knx pool task decodeFrames', () => {
  const pool = new WorkerPool({ mode: 'inline' });
  afterAll(() => pool.close());

  it('decodes a batch; a malformed frame becomes an error entry in its own slot', () => {
    const results = decodeFrames([F14, TRUNCATED, F17]);
    expect(results[0]).toEqual({
      ok: true,
      frame: { service: 'TUNNELLING_ACK', channelId: 42, sequence: 23, status: 0 },
    });
    expect(results[1]).toMatchObject({ ok: false, code: 'MF_KNX_FRAME_TRUNCATED' });
    expect(results[2]).toMatchObject({ ok: true, frame: { service: 'ROUTING_INDICATION' } });
  });

  it('runs through the worker pool by module path and export name', async () => {
    const results = await pool.run<DecodeResult[]>({
      module: 'adapters/knx/pool-tasks',
      fn: 'decodeFrames',
      payload: [F17],
    });
    expect(results[0]).toMatchObject({ ok: true, frame: { service: 'ROUTING_INDICATION' } });
  });

  it('packed input decodes the same as separate datagrams; lengths past the buffer are rejected', () => {
    expect(decodePackedFrames(packFrames([F14, TRUNCATED, F17]))).toEqual(
      decodeFrames([F14, TRUNCATED, F17]),
    );
    expect(() => decodePackedFrames({ bytes: F14, lengths: [10, 1] })).toThrow(
      expect.objectContaining({ code: 'MF_KNX_FRAME_TRUNCATED' }),
    );
  });

  it('negative or fractional packed lengths are MF_KNX_FRAME_LENGTH, not silently misaligned frames', () => {
    const packed = packFrames([F14, F17]);
    for (const lengths of [
      [-4, 14 + packed.lengths[1]!],
      [Number.NaN, 10],
      [4.5, 5.5],
    ])
      expect(() => decodePackedFrames({ bytes: packed.bytes, lengths })).toThrow(
        expect.objectContaining({ code: 'MF_KNX_FRAME_LENGTH' }),
      );
  });

  it('a batch above the per-task bound is MF_KNX_BATCH_TOO_LARGE', () => {
    expect(() => decodeFrames(Array.from({ length: 10_001 }, () => F14))).toThrow(
      expect.objectContaining({ code: 'MF_KNX_BATCH_TOO_LARGE' }),
    );
  });
});
