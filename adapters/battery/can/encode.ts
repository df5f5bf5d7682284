import { BatteryCodecError } from '../errors.js';
import type { CanFrame, PylonAlarmFlags, PylonProtectionFlags } from './types.js';

/**
 * Pylon V1.2 encoders, used by the simulator (a BMS talks, we normally only listen). Tests never
 * use these as their only source of truth: golden vectors come from the reference captures.
 */

function rawOf(value: number, scale: number, field: string, signed: boolean): number {
  const raw = Math.round(value / scale);
  const [min, max] = signed ? [-0x8000, 0x7fff] : [0, 0xffff];
  if (raw < min || raw > max) {
    throw new BatteryCodecError('MF_BATTERY_VALUE_RANGE', `${field} = ${value} does not fit its CAN field`, {
      field,
      value,
    });
  }
  return raw & 0xffff;
}

function put16(data: Uint8Array, offset: number, raw: number): void {
  data[offset] = raw & 0xff;
  data[offset + 1] = (raw >> 8) & 0xff;
}

export type LimitsInput = {
  chargeVoltageLimitV: number;
  chargeCurrentLimitA: number;
  dischargeCurrentLimitA: number;
  dischargeVoltageLimitV: number;
};

export function encodeLimits(v: LimitsInput, id = 0x351, extended = false): CanFrame {
  const data = new Uint8Array(8);
  put16(data, 0, rawOf(v.chargeVoltageLimitV, 0.1, 'chargeVoltageLimitV', false));
  put16(data, 2, rawOf(v.chargeCurrentLimitA, 0.1, 'chargeCurrentLimitA', true));
  put16(data, 4, rawOf(v.dischargeCurrentLimitA, 0.1, 'dischargeCurrentLimitA', true));
  put16(data, 6, rawOf(v.dischargeVoltageLimitV, 0.1, 'dischargeVoltageLimitV', false));
  return { id, extended, data };
}

export function encodeStateOfCharge(v: { stateOfChargePct: number; stateOfHealthPct: number }): CanFrame {
  const data = new Uint8Array(4);
  put16(data, 0, rawOf(v.stateOfChargePct, 1, 'stateOfChargePct', false));
  put16(data, 2, rawOf(v.stateOfHealthPct, 1, 'stateOfHealthPct', false));
  return { id: 0x355, extended: false, data };
}

export function encodeMeasurements(v: {
  voltageV: number;
  currentA: number;
  temperatureC: number;
}): CanFrame {
  const data = new Uint8Array(6);
  put16(data, 0, rawOf(v.voltageV, 0.01, 'voltageV', false));
  put16(data, 2, rawOf(v.currentA, 0.1, 'currentA', true));
  put16(data, 4, rawOf(v.temperatureC, 0.1, 'temperatureC', true));
  return { id: 0x356, extended: false, data };
}

export function encodeProtectionAlarm(
  protection: PylonProtectionFlags,
  alarm: PylonAlarmFlags,
  moduleCount: number,
): CanFrame {
  const data = new Uint8Array(7);
  data[0] =
    (protection.overVoltage ? 0x02 : 0) |
    (protection.underVoltage ? 0x04 : 0) |
    (protection.overTemperature ? 0x08 : 0) |
    (protection.underTemperature ? 0x10 : 0) |
    (protection.dischargeOverCurrent ? 0x80 : 0);
  data[1] =
    (protection.chargeOverCurrent ? 0x01 : 0) |
    (protection.systemError ? 0x08 : 0) |
    (protection.byte1Bit7Fault ? 0x80 : 0);
  data[2] =
    (alarm.highVoltage ? 0x02 : 0) |
    (alarm.lowVoltage ? 0x04 : 0) |
    (alarm.highTemperature ? 0x08 : 0) |
    (alarm.lowTemperature ? 0x10 : 0) |
    (alarm.dischargeHighCurrent ? 0x80 : 0);
  data[3] =
    (alarm.chargeHighCurrent ? 0x01 : 0) |
    (alarm.internalCommunicationFail ? 0x08 : 0) |
    (alarm.byte3Bit7Alarm ? 0x80 : 0);
  data[4] = moduleCount & 0xff;
  data[5] = 0x50; // 'P'
  data[6] = 0x4e; // 'N'
  return { id: 0x359, extended: false, data };
}

export type RequestsInput = {
  chargeEnable: boolean;
  dischargeEnable: boolean;
  forceChargeRequestI: boolean;
  forceChargeRequestII: boolean;
  fullChargeRequest: boolean;
};

export function encodeRequests(v: RequestsInput): CanFrame {
  const b0 =
    (v.chargeEnable ? 0x80 : 0) |
    (v.dischargeEnable ? 0x40 : 0) |
    (v.forceChargeRequestI ? 0x20 : 0) |
    (v.forceChargeRequestII ? 0x10 : 0) |
    (v.fullChargeRequest ? 0x08 : 0);
  return { id: 0x35c, extended: false, data: Uint8Array.of(b0, 0) };
}

/** 8 ASCII bytes, space-padded, as Pylontech sends it. */
export function encodeManufacturer(name: string): CanFrame {
  const data = new Uint8Array(8).fill(0x20);
  for (let i = 0; i < Math.min(8, name.length); i++) data[i] = name.charCodeAt(i) & 0x7f;
  return { id: 0x35e, extended: false, data };
}

/** The keep-alive an inverter (or our adapter, when alone on the bus) sends at 1 Hz. */
export function encodeInverterHeartbeat(): CanFrame {
  return { id: 0x305, extended: false, data: new Uint8Array(8) };
}
