import {
  asciiText,
  requireDlc,
  requireRange,
  s16le,
  scaled,
  u16le,
  unknownBitsOf,
  withBase,
} from './fields.js';
import { toHex } from './frame.js';
import type {
  CanBatteryInfo,
  CanFrame,
  CanLimits,
  CanManufacturer,
  CanMeasurements,
  CanProtectionAlarm,
  CanRequests,
  CanSmaAlarms,
  CanStateOfCharge,
  CanVariant,
  UnknownBit,
} from './types.js';

/**
 * Pylontech low-voltage CAN layouts (V1.2, plus the V1.3/SMA frames 0x35A/0x35F), 11-bit ids,
 * little-endian. Byte layouts: reference battery.md §2.1 and §2.3.
 */

/** Plausible physical limits: outside them a value is corruption, not a battery state. */
export const plausibleTemperatureC = { min: -60, max: 150 } as const;

type Base = { id: number; extended: boolean; variant: CanVariant; packId?: number };

export function decodeLimits(frame: CanFrame, base: Base): CanLimits {
  requireDlc(frame, 6, 8, 'CVL/CCL/DCL/DVL');
  const d = frame.data;
  const chargeCurrentLimitA = scaled(s16le(d, 2), 0.1);
  requireRange(frame, 'chargeCurrentLimit', chargeCurrentLimitA, 0, 3276.7, 'A');
  const out: CanLimits = withBase(base, {
    kind: 'limits',
    chargeVoltageLimitV: scaled(u16le(d, 0), 0.1),
    chargeCurrentLimitA,
    dischargeCurrentLimitA: Math.abs(scaled(s16le(d, 4), 0.1)),
  });
  if (d.length >= 8) out.dischargeVoltageLimitV = scaled(u16le(d, 6), 0.1);
  return out;
}

export function decodeStateOfCharge(frame: CanFrame, base: Base): CanStateOfCharge {
  requireDlc(frame, 4, 8, 'SOC/SOH');
  const d = frame.data;
  const stateOfChargePct = u16le(d, 0);
  const stateOfHealthPct = u16le(d, 2);
  requireRange(frame, 'stateOfCharge', stateOfChargePct, 0, 100, '%');
  requireRange(frame, 'stateOfHealth', stateOfHealthPct, 0, 100, '%');
  const out: CanStateOfCharge = withBase(base, { kind: 'stateOfCharge', stateOfChargePct, stateOfHealthPct });
  if (d.length >= 6) {
    const precise = scaled(u16le(d, 4), 0.01);
    requireRange(frame, 'stateOfChargePrecise', precise, 0, 100, '%');
    out.stateOfChargePrecisePct = precise;
  }
  if (d.length >= 8) out.remainingCapacityRaw = u16le(d, 6);
  return out;
}

export function decodeMeasurements(frame: CanFrame, base: Base, voltageScale: number): CanMeasurements {
  requireDlc(frame, 6, 8, 'voltage/current/temperature');
  const d = frame.data;
  const temperatureC = scaled(s16le(d, 4), 0.1);
  requireRange(
    frame,
    'temperature',
    temperatureC,
    plausibleTemperatureC.min,
    plausibleTemperatureC.max,
    '°C',
  );
  const out: CanMeasurements = withBase(base, {
    kind: 'measurements',
    // The spec types voltage s16, but a 0.01 V s16 cannot hold 327.68 V+; no LV pack goes there,
    // and u16 is what every implementation in the reference actually decodes.
    voltageV: scaled(u16le(d, 0), voltageScale),
    currentA: scaled(s16le(d, 2), 0.1),
    temperatureC,
  });
  if (d.length >= 8) out.cycleCount = u16le(d, 6);
  return out;
}

// 0x359 byte masks (reference §2.1 table). Bytes 1 and 3 bit 7 are decoded as ambiguous faults.
const protection0 = {
  overVoltage: 0x02,
  underVoltage: 0x04,
  overTemperature: 0x08,
  underTemperature: 0x10,
  dischargeOverCurrent: 0x80,
};
const protection1 = { chargeOverCurrent: 0x01, systemError: 0x08, byte1Bit7Fault: 0x80 };
const alarm2 = {
  highVoltage: 0x02,
  lowVoltage: 0x04,
  highTemperature: 0x08,
  lowTemperature: 0x10,
  dischargeHighCurrent: 0x80,
};
const alarm3 = { chargeHighCurrent: 0x01, internalCommunicationFail: 0x08, byte3Bit7Alarm: 0x80 };

function maskOf(table: Record<string, number>): number {
  return Object.values(table).reduce((a, b) => a | b, 0);
}

const knownMasks = [maskOf(protection0), maskOf(protection1), maskOf(alarm2), maskOf(alarm3)] as const;

export function decodeProtectionAlarm(frame: CanFrame, base: Base): CanProtectionAlarm {
  requireDlc(frame, 7, 8, 'protection/alarm flags');
  const d = frame.data;
  const [b0, b1, b2, b3] = [d[0]!, d[1]!, d[2]!, d[3]!];
  const unknownBits: UnknownBit[] = [
    ...unknownBitsOf(0, b0, knownMasks[0]),
    ...unknownBitsOf(1, b1, knownMasks[1]),
    ...unknownBitsOf(2, b2, knownMasks[2]),
    ...unknownBitsOf(3, b3, knownMasks[3]),
  ];
  return withBase(base, {
    kind: 'protectionAlarm',
    protection: {
      overVoltage: (b0 & protection0.overVoltage) !== 0,
      underVoltage: (b0 & protection0.underVoltage) !== 0,
      overTemperature: (b0 & protection0.overTemperature) !== 0,
      underTemperature: (b0 & protection0.underTemperature) !== 0,
      dischargeOverCurrent: (b0 & protection0.dischargeOverCurrent) !== 0,
      chargeOverCurrent: (b1 & protection1.chargeOverCurrent) !== 0,
      systemError: (b1 & protection1.systemError) !== 0,
      byte1Bit7Fault: (b1 & protection1.byte1Bit7Fault) !== 0,
    },
    alarm: {
      highVoltage: (b2 & alarm2.highVoltage) !== 0,
      lowVoltage: (b2 & alarm2.lowVoltage) !== 0,
      highTemperature: (b2 & alarm2.highTemperature) !== 0,
      lowTemperature: (b2 & alarm2.lowTemperature) !== 0,
      dischargeHighCurrent: (b2 & alarm2.dischargeHighCurrent) !== 0,
      chargeHighCurrent: (b3 & alarm3.chargeHighCurrent) !== 0,
      internalCommunicationFail: (b3 & alarm3.internalCommunicationFail) !== 0,
      byte3Bit7Alarm: (b3 & alarm3.byte3Bit7Alarm) !== 0,
    },
    moduleCount: d[4]!,
    tag: asciiText(d.subarray(5, 7)),
    unknownBits,
  });
}

export function decodeRequests(frame: CanFrame, base: Base): CanRequests {
  requireDlc(frame, 1, 8, 'charge/discharge requests');
  const d = frame.data;
  const b0 = d[0]!;
  const unknownBits = unknownBitsOf(0, b0, 0xf8);
  // Byte 1 is reserved; anything else is reported rather than dropped.
  for (let i = 1; i < d.length; i++) unknownBits.push(...unknownBitsOf(i, d[i]!, 0));
  return withBase(base, {
    kind: 'requests',
    chargeEnable: (b0 & 0x80) !== 0,
    dischargeEnable: (b0 & 0x40) !== 0,
    forceChargeRequestI: (b0 & 0x20) !== 0,
    forceChargeRequestII: (b0 & 0x10) !== 0,
    fullChargeRequest: (b0 & 0x08) !== 0,
    unknownBits,
  });
}

export function decodeManufacturer(frame: CanFrame, base: Base): CanManufacturer {
  requireDlc(frame, 1, 8, 'manufacturer name');
  return withBase(base, { kind: 'manufacturer', name: asciiText(frame.data), rawHex: toHex(frame.data) });
}

// 0x35A: the names of each 2-bit pair, bytes 0–3 (alarms) and again 4–7 (warnings).
const smaPairNames: readonly (readonly (string | undefined)[])[] = [
  ['general', 'highVoltage', 'lowVoltage', 'highTemperature'],
  ['lowTemperature', 'chargeHighTemperature', 'chargeLowTemperature', 'dischargeOverCurrent'],
  ['chargeOverCurrent', 'contactor', 'shortCircuit', 'bmsInternal'],
  ['cellImbalance', undefined, undefined, undefined],
];

export function decodeSmaAlarms(frame: CanFrame, base: Base): CanSmaAlarms {
  requireDlc(frame, 8, 8, 'SMA-style alarms/warnings');
  const alarms: string[] = [];
  const warnings: string[] = [];
  const unknownBits: UnknownBit[] = [];
  for (let byte = 0; byte < 8; byte++) {
    const value = frame.data[byte]!;
    const names = smaPairNames[byte % 4]!;
    for (let pair = 0; pair < 4; pair++) {
      const activeMask = 1 << (pair * 2);
      const name = names[pair];
      if (name === undefined) {
        unknownBits.push(...unknownBitsOf(byte, value & (3 << (pair * 2)), 0));
        continue;
      }
      // The high bit of a pair is "not active/OK" in the SMA convention; only the low bit raises.
      if (value & activeMask) (byte < 4 ? alarms : warnings).push(name);
    }
  }
  return withBase(base, { kind: 'smaAlarms', alarms, warnings, unknownBits });
}

export function decodeBatteryInfo(frame: CanFrame, base: Base): CanBatteryInfo {
  requireDlc(frame, 8, 8, 'battery info');
  const d = frame.data;
  return withBase(base, {
    kind: 'batteryInfo',
    typeHex: toHex(d.subarray(0, 2)),
    versionHex: toHex(d.subarray(2, 4)),
    capacityAh: u16le(d, 4),
    manufacturerIdHex: toHex(d.subarray(6, 8)),
  });
}
