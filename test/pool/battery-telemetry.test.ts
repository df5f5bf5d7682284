import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCanet } from '../../adapters/battery/can/canet.js';
import type { CanFrame } from '../../adapters/battery/can/frame.js';
import {
  type CanTelemetryColumns,
  type CanTelemetryView,
  canTelemetryAt,
  canTelemetryOf,
  decodeCanetTelemetry,
  decodeCanFrames,
} from '../../adapters/battery/pool-tasks.js';
import { type PoolMode, WorkerPool } from '../../cluster/pool/pool.js';

// Pylon / Sofar ids (standard, and extended with a pack id in the upper bits) with any data.
const baseIds = [0x351, 0x355, 0x356, 0x359, 0x35c, 0x35e, 0x305, 0x35a, 0x379, 0x123];
const frame: fc.Arbitrary<CanFrame> = fc
  .record({
    base: fc.constantFrom(...baseIds),
    pack: fc.option(fc.integer({ min: 1, max: 0x1ffff }), { nil: undefined }),
    data: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ base, pack, data }) =>
    pack === undefined
      ? { id: base, extended: false, data }
      : { id: base + pack * 0x1000, extended: true, data },
  );

function expected(f: CanFrame): CanTelemetryView {
  const [r] = decodeCanFrames([f]);
  return r!.ok ? canTelemetryOf(r!.value) : { ok: false, code: r!.error.code, message: r!.error.message };
}

const pack = (frames: CanFrame[]) => Uint8Array.from(Buffer.concat(frames.map(encodeCanet)));
const views = (c: CanTelemetryColumns) => Array.from({ length: c.count }, (_, i) => canTelemetryAt(c, i));

for (const mode of ['inline', 'workers'] as PoolMode[])
  describe(`battery CAN frames decoded to telemetry columns (${mode})`, () => {
    const pool = new WorkerPool({ mode, threads: 2 });
    afterAll(() => pool.close());

    it('holds for every frame the id, kind and telemetry values decodeCanFrame gives (property)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(frame, { maxLength: 40 }), async (frames) => {
          const bytes = pack(frames);
          const c = await pool.run<CanTelemetryColumns>(
            { module: 'adapters/battery/pool-tasks', fn: 'decodeCanetTelemetry', payload: bytes },
            { transferList: [bytes.buffer as ArrayBuffer] },
          );
          expect(views(c)).toEqual(frames.map(expected));
          expect(bytes.byteLength).toBe(0);
        }),
        { numRuns: mode === 'inline' ? 200 : 30 },
      );
    }, 120_000);
  });

describe('battery telemetry columns', () => {
  it('exercises telemetry kinds and errors (the property above is not vacuous)', () => {
    const frames: CanFrame[] = [
      { id: 0x351, extended: false, data: Uint8Array.from([0x14, 0x02, 0x74, 0x0e, 0x74, 0x0e, 0xcc, 0x01]) },
      { id: 0x356, extended: false, data: Uint8Array.from([0x7a, 0x13, 0xf2, 0xfe, 0x6b, 0x01]) },
      { id: 0x356, extended: false, data: Uint8Array.from([0x7a, 0x13, 0xf2]) },
    ];
    const c = decodeCanetTelemetry(pack(frames)).value;
    expect(canTelemetryAt(c, 0)).toMatchObject({
      ok: true,
      kind: 'limits',
      values: { chargeVoltageLimit: 53.2 },
    });
    expect(canTelemetryAt(c, 1)).toMatchObject({
      ok: true,
      kind: 'measurements',
      values: { voltage: 49.86 },
    });
    expect(canTelemetryAt(c, 2)).toMatchObject({ ok: false, code: 'MF_BATTERY_CAN_DLC' });
  });
});
