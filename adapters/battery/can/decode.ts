import { requireDlc, requireRange, unknownBitsOf, withBase } from './fields.js';
import { assertValidCanFrame, toHex } from './frame.js';
import {
  decodeBatteryInfo,
  decodeLimits,
  decodeManufacturer,
  decodeMeasurements,
  decodeProtectionAlarm,
  decodeRequests,
  decodeSmaAlarms,
  decodeStateOfCharge,
} from './pylon-decode.js';
import type { CanFrame, CanVariant, DecodedCan } from './types.js';

/**
 * One entry point for every battery CAN frame. Standard ids decode with the Pylontech layouts
 * (V1.2 and V1.3 share them; they differ in which ids are sent). Extended ids whose low 12 bits
 * are a Pylon base id are Sofar's "extended" format, `id = base + (packId << 12)`, whose
 * 0x355/0x356/0x359 layouts differ (reference §2.4). The variant field says which table was used.
 */
export const pylonIds = {
  limits: 0x351,
  stateOfCharge: 0x355,
  measurements: 0x356,
  protectionAlarm: 0x359,
  smaAlarms: 0x35a,
  requests: 0x35c,
  manufacturer: 0x35e,
  batteryInfo: 0x35f,
  inverterHeartbeat: 0x305,
  inverterIdentification: 0x307,
  sofarEnableFlags: 0x30f,
} as const;

export const sofarBaseIds: ReadonlySet<number> = new Set([
  0x351, 0x355, 0x356, 0x359, 0x35a, 0x35e, 0x35f, 0x30f,
]);

export function decodeCanFrame(frame: CanFrame): DecodedCan {
  assertValidCanFrame(frame);
  if (frame.extended) return decodeSofarExtended(frame);
  const variant: CanVariant = frame.id === 0x35a || frame.id === 0x35f ? 'pylon-v1.3' : 'pylon-v1.2';
  const base = { id: frame.id, extended: false, variant };
  switch (frame.id) {
    case pylonIds.limits:
      return decodeLimits(frame, base);
    case pylonIds.stateOfCharge:
      return decodeStateOfCharge(frame, base);
    case pylonIds.measurements:
      return decodeMeasurements(frame, base, 0.01);
    case pylonIds.protectionAlarm:
      return decodeProtectionAlarm(frame, base);
    case pylonIds.requests:
      return decodeRequests(frame, base);
    case pylonIds.manufacturer:
      return decodeManufacturer(frame, base);
    case pylonIds.smaAlarms:
      return decodeSmaAlarms(frame, base);
    case pylonIds.batteryInfo:
      return decodeBatteryInfo(frame, base);
    case pylonIds.inverterHeartbeat:
    case pylonIds.inverterIdentification:
      requireDlc(frame, 0, 8, 'inverter heartbeat');
      return withBase(base, { kind: 'inverterHeartbeat', rawHex: toHex(frame.data) });
    default:
      return withBase(base, { kind: 'unknown', rawHex: toHex(frame.data) });
  }
}

function decodeSofarExtended(frame: CanFrame): DecodedCan {
  const baseId = frame.id & 0xfff;
  const packId = frame.id >>> 12;
  const base = { id: frame.id, extended: true, variant: 'sofar-extended' as const, packId };
  if (!sofarBaseIds.has(baseId)) return withBase(base, { kind: 'unknown', rawHex: toHex(frame.data) });
  // Sofar-extended frames are always 8 bytes (Battery-Emulator SOFAR-CAN.h).
  requireDlc(frame, 8, 8, `Sofar-extended 0x${baseId.toString(16)}`);
  const d = frame.data;
  switch (baseId) {
    case 0x351:
      return decodeLimits(frame, base);
    case 0x355: {
      const stateOfChargePct = d[0]!;
      const stateOfHealthPct = d[2]!;
      requireRange(frame, 'stateOfCharge', stateOfChargePct, 0, 100, '%');
      requireRange(frame, 'stateOfHealth', stateOfHealthPct, 0, 100, '%');
      return withBase(base, { kind: 'stateOfCharge', stateOfChargePct, stateOfHealthPct });
    }
    case 0x356: {
      // Voltage is 0.1 V here, not 0.01 V as in Pylon (reference §2.4, §6).
      const m = decodeMeasurements(frame, base, 0.1);
      delete m.cycleCount;
      return m;
    }
    case 0x359:
      return withBase(base, {
        kind: 'packConfig',
        parallelPacks: d[0]!,
        modulesInSeries: d[1]!,
        canVersion: d[2]!,
        cellsInSeries: d[3]!,
        rawHex: toHex(d),
      });
    case 0x35a:
      return decodeSmaAlarms(frame, base);
    case 0x35e:
      return decodeManufacturer(frame, base);
    case 0x35f: {
      // Sofar: byte 0 type, bytes 1–3 BMS version, 4–5 capacity Ah, 6–7 manufacturer id.
      const info = decodeBatteryInfo(frame, base);
      info.typeHex = toHex(d.subarray(0, 1));
      info.versionHex = toHex(d.subarray(1, 4));
      return info;
    }
    default: {
      // 0x30F: byte 1 b0 discharge allowed, b1 charge allowed.
      const b1 = d[1]!;
      const unknownBits = [...unknownBitsOf(0, d[0]!, 0), ...unknownBitsOf(1, b1, 0x03)];
      for (let i = 2; i < 8; i++) unknownBits.push(...unknownBitsOf(i, d[i]!, 0));
      return withBase(base, {
        kind: 'enableFlags',
        dischargeAllowed: (b1 & 0x01) !== 0,
        chargeAllowed: (b1 & 0x02) !== 0,
        unknownBits,
      });
    }
  }
}
