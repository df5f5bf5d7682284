import type { EndDeviceEventInput } from '../../adapters/cim/end-device-events.js';
import type { CsvRow } from '../../adapters/csv/codec.js';
import type { DailyKind } from '../../adapters/csv/formats.js';
import { prepaymentRows } from '../../adapters/csv/prepayment-rows.js';
import { loadProfileRows, maximumPowerRows, registerRows } from '../../adapters/csv/rows.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import type { RoutedRecord } from '../tlog/router.js';

/**
 * Routed TLog records -> what the integration consumers write: rows per daily CSV kind and
 * the readings and events for CIM messages, usage points filled from the registry. Pure, so
 * a replayed batch gives the same output and the writers' seq checks make it exactly once.
 */

export type PodLookup = (meterSerial: string, atMs: number) => string | undefined;

export type OutputBatch = {
  csv: Partial<Record<DailyKind, CsvRow[]>>;
  /** Register, closure, interval and voltage readings for MeterReadings messages. */
  readings: CollectedReading[];
  /** Events for EndDeviceEvents messages, grouped later by CorrelationID. */
  events: EndDeviceEventInput[];
};

const nominalVoltageV = 230;

export function buildOutputBatch(routed: readonly RoutedRecord[], podOf: PodLookup): OutputBatch {
  const readings: CollectedReading[] = [];
  const events: EndDeviceEventInput[] = [];
  const vv: CsvRow[] = [];
  const swe: CsvRow[] = [];
  // Inherited enumerable keys would show in the shape check's for-in (not in a spread).
  const plainPrototype = !hasEnumerableKeys(Object.prototype);
  for (const { record } of routed) {
    if (record.type === 'reading') {
      const r = record.reading;
      const pod = r.usagePoint ?? podOf(r.meterSerial, r.timestampMs);
      const reading = pod !== undefined ? withUsagePoint(r, pod, plainPrototype) : r;
      readings.push(reading);
      if (r.kind === 'instantaneous' && r.quantity.source === 'obis' && r.quantity.code === '32.7.0')
        vv.push({
          serialnumber: r.meterSerial,
          pod: pod ?? '',
          type: r.value < nominalVoltageV ? 'sag' : 'swell',
          value: r.value,
          time: r.timestampMs,
        });
    } else if (record.type === 'event') {
      const e = record.event;
      const pod = e.deviceKind === 'meter' ? podOf(e.deviceId, e.timestampMs) : undefined;
      events.push(pod !== undefined ? { ...e, usagePoint: pod } : e);
      if (e.key === 'meter.statusWordAlarm')
        swe.push({
          serialnumber: e.deviceId,
          pod: pod ?? '',
          concentrator: record.concentratorId,
          statusword: e.details?.STATUSWORD ?? '',
          alarm: 'meter.statusWordAlarm',
          description: e.details?.DESCRIPTION ?? '',
          time: e.timestampMs,
        });
    }
  }
  const csv: Partial<Record<DailyKind, CsvRow[]>> = {};
  const put = (kind: DailyKind, rows: CsvRow[]) => {
    if (rows.length > 0) csv[kind] = rows;
  };
  put('S', loadProfileRows(readings));
  put('DC', registerRows(readings, 'dailyClosure'));
  put('R', registerRows(readings.some(isKnxEnergy) ? readings.map(asObisRegister) : readings, 'register'));
  put('MP', maximumPowerRows(readings));
  put('PP', prepaymentRows(readings));
  put('VV', vv);
  put('SWE', swe);
  return { csv, readings, events };
}

/**
 * `{ ...r, usagePoint }`, built as one object literal when `r` has the unpacker's shape
 * (actors/hosting/compact-unpack.ts: the six reading keys, then the optional interval and
 * qualities, in that order, own keys of a plain object): the same own keys in the same order
 * with the same values as the spread. Measured on the 400x20 bench's readings (unpacked, no
 * usage point: the driver fills it from the registry), the spread made each copy through a
 * slow path and left the CSV row builders and the CIM encoder reading objects of many
 * shapes: `buildOutputBatch` took 3.2 us CPU per reading with it, 0.8 us with the literals
 * (actors/host/README.md, session 16). Any other shape is spread as before.
 */
export function withUsagePoint(
  r: CollectedReading,
  usagePoint: string,
  plainPrototype = !hasEnumerableKeys(Object.prototype),
): CollectedReading {
  switch (plainPrototype && Object.getPrototypeOf(r) === Object.prototype ? unpackedShape(r) : -1) {
    case 3:
      return {
        meterSerial: r.meterSerial,
        kind: r.kind,
        quantity: r.quantity,
        value: r.value,
        unit: r.unit,
        timestampMs: r.timestampMs,
        intervalSeconds: r.intervalSeconds,
        qualities: r.qualities,
        usagePoint,
      };
    case 1:
      return {
        meterSerial: r.meterSerial,
        kind: r.kind,
        quantity: r.quantity,
        value: r.value,
        unit: r.unit,
        timestampMs: r.timestampMs,
        intervalSeconds: r.intervalSeconds,
        usagePoint,
      };
    case 2:
      return {
        meterSerial: r.meterSerial,
        kind: r.kind,
        quantity: r.quantity,
        value: r.value,
        unit: r.unit,
        timestampMs: r.timestampMs,
        qualities: r.qualities,
        usagePoint,
      };
    case 0:
      return {
        meterSerial: r.meterSerial,
        kind: r.kind,
        quantity: r.quantity,
        value: r.value,
        unit: r.unit,
        timestampMs: r.timestampMs,
        usagePoint,
      };
    default:
      return { ...r, usagePoint };
  }
}

/** The unpacker's key order; the last two are optional. */
const unpackedKeys = [
  'meterSerial',
  'kind',
  'quantity',
  'value',
  'unit',
  'timestampMs',
  'intervalSeconds',
  'qualities',
] as const;
const requiredKeys = 6;

/** -1: not the unpacker's shape; else bit 1 interval present, bit 2 qualities present. */
function unpackedShape(r: CollectedReading): number {
  let next = 0;
  let shape = 0;
  for (const key in r) {
    while (next < unpackedKeys.length && unpackedKeys[next] !== key) {
      if (next < requiredKeys) return -1;
      next++;
    }
    if (next === unpackedKeys.length) return -1;
    if (next === requiredKeys) shape |= 1;
    else if (next === requiredKeys + 1) shape |= 2;
    next++;
  }
  return next >= requiredKeys ? shape : -1;
}

function hasEnumerableKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** A KNX active energy counter (DPT 13.010 Wh / 13.013 kWh) read as a register. */
function isKnxEnergy(r: CollectedReading): boolean {
  return (
    r.kind === 'register' &&
    r.quantity.source === 'knx' &&
    (r.quantity.dpt === '13.010' || r.quantity.dpt === '13.013')
  );
}

/** KNX energy counters are total registers without tariffs: R_ rows as OBIS 1.8.0 (2.8.0 export). */
function asObisRegister(r: CollectedReading): CollectedReading {
  if (!isKnxEnergy(r) || r.quantity.source !== 'knx') return r;
  return { ...r, quantity: { source: 'obis', code: r.quantity.quantity === 'export' ? '2.8.0' : '1.8.0' } };
}
