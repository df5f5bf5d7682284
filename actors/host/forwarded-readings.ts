import type { CollectedReading } from '../../adapters/field-data.js';
import {
  checkTypeRows,
  forEachMeterRow,
  isObject,
  listMark,
  runHeader,
} from '../../core/packed-list-tables.js';
import { unpackValue } from '../hosting/compact-records.js';

/**
 * A device's collected readings passed on by the driver in their packed form (issue 7,
 * session 16). A device's `completed` effect goes to its worker unchanged (`deviceCompleted`):
 * the driver used to unpack the readings out of the device's reply, size them as plain JSON for
 * its budgets, and pack them again into the worker's call, which gave the same packed list the
 * device had sent (the packer is a function of the list's JSON: test/actors/compact-records.test.ts).
 * Now the reply's packed list is kept as it came (`ForwardedReadings`) and written into the
 * worker's call as is (`toJSON`), so the call, what the worker persists and replays, are the
 * same bytes as before (no new persisted form), and its plain JSON length, which the budgets
 * count, is computed from the packed tables without building the readings (`plainBytes`).
 * The readings themselves are built only if someone asks (`readings()`: an on-demand read's
 * waiter).
 */

/** The packed list, kept as it came; JSON-serialised as that list. Not enumerable, so the packer and unpacker pass it through. */
export class ForwardedReadings {
  readonly #packed: Record<string, unknown>;
  #readings: CollectedReading[] | undefined;
  /** `JSON.stringify` length of the readings it stands for (what the driver's plain budgets count). */
  readonly plainBytes: number;

  private constructor(packed: Record<string, unknown>, plainBytes: number) {
    this.#packed = packed;
    this.plainBytes = plainBytes;
    Object.defineProperty(this, 'plainBytes', { enumerable: false });
  }

  /** Wraps a packed level-0 list; undefined when it is not one (or malformed): the caller unpacks it as before. */
  static of(packed: unknown): ForwardedReadings | undefined {
    if (!isObject(packed) || packed[listMark] !== 0) return undefined;
    const plainBytes = plainLengthOfPackedReadings(packed);
    return plainBytes === undefined ? undefined : new ForwardedReadings(packed, plainBytes);
  }

  /** The packed list (JSON.stringify writes it in place of this object). */
  toJSON(): unknown {
    return this.#packed;
  }

  /** The readings, unpacked (once). */
  readings(): CollectedReading[] {
    this.#readings ??= unpackValue<CollectedReading[]>(this.#packed);
    return this.#readings;
  }
}

/** Plain readings: a forwarded list unpacked, a plain one as it is. */
export function plainReadings(
  readings: readonly CollectedReading[] | ForwardedReadings,
): readonly CollectedReading[] {
  return readings instanceof ForwardedReadings ? readings.readings() : readings;
}

/**
 * A device reply (the packed `{effects, acknowledged?}` a `deliver` answers) unpacked except for
 * each `completed` effect's packed readings, which stay packed as `ForwardedReadings`. Anything
 * not of the expected shape is left to the full unpack.
 */
export function unpackDeviceReply<T>(packedReply: unknown): T {
  if (isObject(packedReply) && Array.isArray(packedReply.effects))
    for (const entry of packedReply.effects) {
      if (!isObject(entry) || !Array.isArray(entry.effects)) continue;
      for (const effect of entry.effects) {
        if (!isObject(effect) || effect.type !== 'completed') continue;
        const forwarded = ForwardedReadings.of(effect.readings);
        if (forwarded) effect.readings = forwarded;
      }
    }
  return unpackValue<T>(packedReply);
}

/** JSON.stringify length of a finite number or a string, as json-length.ts counts it (no import cycle). */
const lengthOf = (v: string | number | object): number => JSON.stringify(v).length;

const keyBytes = {
  meterSerial: lengthOf('meterSerial') + 1,
  usagePoint: lengthOf('usagePoint') + 1,
  kind: lengthOf('kind') + 1,
  quantity: lengthOf('quantity') + 1,
  value: lengthOf('value') + 1,
  unit: lengthOf('unit') + 1,
  timestampMs: lengthOf('timestampMs') + 1,
  intervalSeconds: lengthOf('intervalSeconds') + 1,
  qualities: lengthOf('qualities') + 1,
};

/** JSON length of a finite number (`String(n)`: what JSON.stringify writes for it). */
function numberBytes(n: number): number {
  if (!Number.isFinite(n)) return 4; // null
  if (Number.isSafeInteger(n)) {
    let length = n < 0 ? 2 : 1;
    let rest = Math.abs(n);
    while (rest >= 10) {
      rest = Math.floor(rest / 10);
      length++;
    }
    return length;
  }
  return String(n).length;
}

class Malformed extends Error {}

/**
 * `JSON.stringify(unpackValue(packed)).length` for a packed level-0 list (readings), from its
 * tables and runs: per meter row the serial and usage point, per type row the kind, quantity,
 * unit, interval and qualities, per reading its value and instant. Undefined for a list the
 * unpacker would refuse (it is then unpacked, and refused, as before).
 */
export function plainLengthOfPackedReadings(p: Record<string, unknown>): number | undefined {
  try {
    return lengthOrThrow(p);
  } catch {
    return undefined;
  }
}

function lengthOrThrow(p: Record<string, unknown>): number {
  const fail: () => never = () => {
    throw new Malformed();
  };
  const { n, m, t, r, o } = p;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail();
  if (!Array.isArray(m) || !Array.isArray(t) || !Array.isArray(r) || !Array.isArray(o)) fail();
  const meters = m as unknown[];
  const types = t as unknown[];
  const runs = r as unknown[];
  const others = o as unknown[];
  // Per meter row: its serial and usage point members, with their commas.
  const meterBytes: number[] = [];
  forEachMeterRow(meters, fail, (_, serial, usagePoint) =>
    meterBytes.push(
      keyBytes.meterSerial +
        lengthOf(serial) +
        (usagePoint === undefined ? 0 : 1 + keyBytes.usagePoint + lengthOf(usagePoint)),
    ),
  );
  checkTypeRows(types, fail);
  // Per type row: kind, quantity, unit and the optional interval and qualities, with commas.
  const typeBytes = types.map((row) => {
    const [kind, quantity, unit, interval, qualities] = row as [
      string,
      object,
      string,
      number | null,
      string[] | null,
    ];
    return (
      keyBytes.kind +
      lengthOf(kind) +
      1 +
      keyBytes.quantity +
      lengthOf(quantity) +
      1 +
      keyBytes.unit +
      lengthOf(unit) +
      (interval === null ? 0 : 1 + keyBytes.intervalSeconds + lengthOf(interval)) +
      (qualities === null ? 0 : 1 + keyBytes.qualities + lengthOf(qualities))
    );
  });
  // Braces, the commas between the members always present, and the value and instant keys.
  const fixedBytes = 2 + 3 + keyBytes.value + keyBytes.timestampMs;
  let total = 0;
  let elements = 0;
  const placed = new Set<unknown>();
  for (const entry of others) {
    if (!Array.isArray(entry) || entry.length !== 2) fail();
    const [index] = entry as [unknown, unknown];
    if (
      !Number.isInteger(index) ||
      (index as number) < 0 ||
      (index as number) >= (n as number) ||
      placed.has(index)
    )
      fail();
    placed.add(index);
    const length = JSON.stringify(unpackValue((entry as unknown[])[1]))?.length;
    total += length ?? 4;
    elements++;
  }
  if (!runs.every((v) => typeof v === 'number' && Number.isFinite(v))) fail();
  const nums = runs as number[];
  const absolute = p.a === 1;
  let prevM = 0;
  let prevT0 = 0;
  for (let pos = 0; pos < nums.length; ) {
    if (pos + runHeader > nums.length) fail();
    const meter = prevM + nums[pos]!;
    const type = nums[pos + 1]!;
    if (!Number.isInteger(meter) || meter < 0 || meter >= meterBytes.length) fail();
    if (!Number.isInteger(type) || type < 0 || type >= typeBytes.length) fail();
    const t0 = absolute ? nums[pos + 3]! : prevT0 + nums[pos + 3]!;
    const step = nums[pos + 4]!;
    const count = nums[pos + 5]!;
    if (!Number.isInteger(count) || count < 1 || pos + runHeader + count > nums.length) fail();
    const shared = fixedBytes + meterBytes[meter]! + typeBytes[type]!;
    total += shared * count;
    for (let k = 0; k < count; k++) {
      const timestampMs = k === 0 ? t0 : t0 + k * step;
      total += numberBytes(nums[pos + runHeader + k]!) + numberBytes(timestampMs);
    }
    elements += count;
    prevM = meter;
    prevT0 = t0;
    pos += runHeader + count;
  }
  if (elements !== n) fail();
  // Brackets and the commas between elements.
  return total + (elements > 0 ? elements + 1 : 2);
}
