import { describe, expect, it } from 'vitest';
import { encodeCanet } from '../../adapters/battery/can/canet.js';
import { parseCandump } from '../../adapters/battery/can/frame.js';
import { decodeCanetRecords, decodeCanFrames, decodeRs485Frames } from '../../adapters/battery/pool-tasks.js';
import { WorkerPool } from '../../cluster/pool/pool.js';

const frames = ['351#1402740E740ECC01', '356#7A13F2', '355#58005E00'].map(parseCandump);

describe('battery pool tasks', () => {
  it('decodeCanFrames returns one result per frame, in order, with typed errors as data', () => {
    const out = decodeCanFrames(frames);
    expect(out.map((r) => (r.ok ? r.value.kind : r.error.code))).toEqual([
      'limits',
      'MF_BATTERY_CAN_DLC',
      'stateOfCharge',
    ]);
  });

  it('decodeCanetRecords decodes packed 13-byte records the same way', () => {
    const packed = Buffer.concat(frames.map(encodeCanet));
    expect(decodeCanetRecords(packed)).toEqual(decodeCanFrames(frames));
  });

  it('decodeRs485Frames verifies checksums per frame', () => {
    const out = decodeRs485Frames(['~20024642E00202FD33\r', '~20024642E00202FD34\r']);
    expect(out.map((r) => (r.ok ? r.value.cid2 : r.error.code))).toEqual([0x42, 'MF_BATTERY_RS485_CHKSUM']);
  });

  it('runs through the worker pool by module path + export name (inline mode under vitest)', async () => {
    const pool = new WorkerPool({ mode: 'inline', threads: 1 });
    try {
      const out = await pool.runBatches<(typeof frames)[number], ReturnType<typeof decodeCanFrames>[number]>(
        { module: 'adapters/battery/pool-tasks', fn: 'decodeCanFrames' },
        [...frames, ...frames],
        { batchSize: 2 },
      );
      expect(out.map((r) => r.ok)).toEqual([true, false, true, true, false, true]);
    } finally {
      await pool.close();
    }
  });
});
