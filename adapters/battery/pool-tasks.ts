import { transferListOf, type WithTransfer, withTransfer } from '../../cluster/pool/transfer.js';
import { isMeterfabricError } from '../../core/errors.js';
import type { BatteryQuantity } from '../field-data.js';
import { canetFrameBytes, decodeCanet } from './can/canet.js';
import { decodeCanFrame } from './can/decode.js';
import type { CanFrame } from './can/frame.js';
import type { DecodedCan } from './can/types.js';
import { decodeRs485Frame, type Rs485Frame } from './rs485/frame.js';

/**
 * Batch decoders for the worker pool (cluster/pool): pure, structured-clone-able in and out,
 * an array in and an array out, one result per input in the same order. A bad frame yields
 * its typed error as data and never fails the batch.
 */
export type BatchError = { code: string; message: string };
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: BatchError };

/** Bound on one task's batch so a caller cannot pin a worker with an unbounded array. */
export const maxBatchFrames = 100_000;

function asError(err: unknown): BatchError {
  if (isMeterfabricError(err)) return { code: err.code, message: err.message };
  throw err;
}

function checkBatch(length: number): void {
  if (length > maxBatchFrames) {
    throw new RangeError(`battery pool batch of ${length} frames exceeds ${maxBatchFrames}; split it`);
  }
}

export function decodeCanFrames(frames: readonly CanFrame[]): BatchResult<DecodedCan>[] {
  checkBatch(frames.length);
  return frames.map((frame) => {
    try {
      return { ok: true, value: decodeCanFrame(frame) };
    } catch (err) {
      return { ok: false, error: asError(err) };
    }
  });
}

export function decodeRs485Frames(texts: readonly string[]): BatchResult<Rs485Frame>[] {
  checkBatch(texts.length);
  return texts.map((text) => {
    try {
      return { ok: true, value: decodeRs485Frame(text) };
    } catch (err) {
      return { ok: false, error: asError(err) };
    }
  });
}

/**
 * The same as decodeCanFrames for frames packed as consecutive 13-byte CANET records: one
 * buffer crosses to the worker instead of thousands of small objects.
 */
export function decodeCanetRecords(bytes: Uint8Array): BatchResult<DecodedCan>[] {
  checkBatch(Math.floor(bytes.length / canetFrameBytes));
  const out: BatchResult<DecodedCan>[] = [];
  for (let offset = 0; offset + canetFrameBytes <= bytes.length; offset += canetFrameBytes) {
    try {
      out.push({ ok: true, value: decodeCanFrame(decodeCanet(bytes, offset)) });
    } catch (err) {
      out.push({ ok: false, error: asError(err) });
    }
  }
  return out;
}

/**
 * CAN frames decoded to telemetry columns: for each frame its id, kind and the quantities the
 * battery monitor takes from it (TelemetryTracker.apply: measurements -> voltage, current,
 * temperature; stateOfCharge -> SOC, SOH; limits -> charge voltage/current and discharge
 * current limits), in typed arrays moved to the caller. One object per frame cost more to
 * clone back than the decoding; these columns cost nothing to receive. Frames of other kinds
 * keep their id and kind (decode them with decodeCanFrames when their flags are needed); an
 * undecodable frame is an entry in `errors` with its typed code.
 */
export type CanTelemetryColumns = {
  count: number;
  ok: Uint8Array;
  id: Uint32Array;
  /** Index into `kinds`; 0xFF for an error. */
  kind: Uint8Array;
  kinds: string[];
  /** Sofar-extended pack id, or -1. */
  packId: Int32Array;
  /** Three value slots per frame, by kind (see telemetrySlots); NaN where a kind has none. */
  a: Float64Array;
  b: Float64Array;
  c: Float64Array;
  errors: { index: number; code: string; message: string }[];
};

type TelemetryQuantity = Exclude<BatteryQuantity, 'chargedEnergy' | 'dischargedEnergy'>;

/** What slots a, b, c hold for each kind that carries telemetry. */
export const telemetrySlots: Readonly<Record<string, readonly TelemetryQuantity[]>> = {
  measurements: ['voltage', 'current', 'temperature'],
  stateOfCharge: ['stateOfCharge', 'stateOfHealth'],
  limits: ['chargeVoltageLimit', 'chargeCurrentLimit', 'dischargeCurrentLimit'],
};

function slotValues(d: DecodedCan): number[] {
  switch (d.kind) {
    case 'measurements':
      return [d.voltageV, d.currentA, d.temperatureC];
    case 'stateOfCharge':
      return [d.stateOfChargePct, d.stateOfHealthPct];
    case 'limits':
      return [d.chargeVoltageLimitV, d.chargeCurrentLimitA, d.dischargeCurrentLimitA];
    default:
      return [];
  }
}

export type CanTelemetryView =
  | { ok: false; code: string; message: string }
  | {
      ok: true;
      id: number;
      kind: string;
      packId?: number;
      values: Partial<Record<TelemetryQuantity, number>>;
    };

/** The facts decodeCanetTelemetry keeps, taken from a decoded frame (main-thread reference). */
export function canTelemetryOf(d: DecodedCan): CanTelemetryView {
  const values: Partial<Record<TelemetryQuantity, number>> = {};
  const slots = telemetrySlots[d.kind] ?? [];
  slotValues(d).forEach((v, i) => {
    values[slots[i]!] = v;
  });
  return {
    ok: true,
    id: d.id,
    kind: d.kind,
    ...(d.packId !== undefined ? { packId: d.packId } : {}),
    values,
  };
}

export function canTelemetryAt(c: CanTelemetryColumns, i: number): CanTelemetryView {
  if (c.ok[i] !== 1) {
    const e = c.errors.find((x) => x.index === i);
    return { ok: false, code: e?.code ?? 'MF_BATTERY_CAN_FRAME', message: e?.message ?? '' };
  }
  const kind = c.kinds[c.kind[i]!]!;
  const values: Partial<Record<TelemetryQuantity, number>> = {};
  const slots = telemetrySlots[kind] ?? [];
  const row = [c.a[i]!, c.b[i]!, c.c[i]!];
  slots.forEach((q, s) => {
    values[q] = row[s]!;
  });
  const packId = c.packId[i]!;
  return { ok: true, id: c.id[i]!, kind, ...(packId >= 0 ? { packId } : {}), values };
}

/** Decodes packed 13-byte CANET records into CanTelemetryColumns, moved back to the caller. */
export function decodeCanetTelemetry(bytes: Uint8Array): WithTransfer<CanTelemetryColumns> {
  if (!(bytes instanceof Uint8Array)) throw new RangeError('decodeCanetTelemetry takes packed CANET bytes');
  const results = decodeCanetRecords(bytes);
  const count = results.length;
  const c: CanTelemetryColumns = {
    count,
    ok: new Uint8Array(count),
    id: new Uint32Array(count),
    kind: new Uint8Array(count).fill(0xff),
    kinds: [],
    packId: new Int32Array(count).fill(-1),
    a: new Float64Array(count).fill(Number.NaN),
    b: new Float64Array(count).fill(Number.NaN),
    c: new Float64Array(count).fill(Number.NaN),
    errors: [],
  };
  const kindIndex = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const r = results[i]!;
    if (!r.ok) {
      c.errors.push({ index: i, code: r.error.code, message: r.error.message });
      continue;
    }
    const d = r.value;
    let k = kindIndex.get(d.kind);
    if (k === undefined) {
      k = c.kinds.length;
      c.kinds.push(d.kind);
      kindIndex.set(d.kind, k);
    }
    c.ok[i] = 1;
    c.kind[i] = k;
    c.id[i] = d.id;
    if (d.packId !== undefined) c.packId[i] = d.packId;
    const [a, b, v] = slotValues(d);
    if (a !== undefined) c.a[i] = a;
    if (b !== undefined) c.b[i] = b;
    if (v !== undefined) c.c[i] = v;
  }
  return withTransfer(c, transferListOf([c.ok, c.id, c.kind, c.packId, c.a, c.b, c.c]));
}
