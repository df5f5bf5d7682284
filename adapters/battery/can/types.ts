export type { CanFrame } from './frame.js';

/**
 * What the CAN decoder returns. Field names carry their units (V, A, Pct, C, Ah) so the JSON
 * printed by the CLI is self-describing. Every message keeps the raw id and, where the spec
 * leaves bits undefined, lists the bits that were set anyway (`unknownBits`) instead of
 * silently dropping them.
 */

export type CanVariant = 'pylon-v1.2' | 'pylon-v1.3' | 'sofar-extended';

/** A bit that was set but has no meaning in the table we decode against. */
export type UnknownBit = { byte: number; mask: number };

export type PylonProtectionFlags = {
  overVoltage: boolean;
  underVoltage: boolean;
  overTemperature: boolean;
  underTemperature: boolean;
  dischargeOverCurrent: boolean;
  chargeOverCurrent: boolean;
  systemError: boolean;
  /** Byte 1 bit 7: "system error" in some emulators, "charge over-current" in others. A fault either way. */
  byte1Bit7Fault: boolean;
};

export type PylonAlarmFlags = {
  highVoltage: boolean;
  lowVoltage: boolean;
  highTemperature: boolean;
  lowTemperature: boolean;
  dischargeHighCurrent: boolean;
  chargeHighCurrent: boolean;
  internalCommunicationFail: boolean;
  /** Byte 3 bit 7: ambiguous between implementations, like byte 1 bit 7. */
  byte3Bit7Alarm: boolean;
};

type Common = {
  id: number;
  extended: boolean;
  variant: CanVariant /** Sofar-extended only. */;
  packId?: number;
};

export type CanLimits = Common & {
  kind: 'limits';
  chargeVoltageLimitV: number;
  chargeCurrentLimitA: number;
  /** Always positive: real packs send it positive, the DBC says negative (reference §2.1). */
  dischargeCurrentLimitA: number;
  /** Absent when the frame has DLC 6 (Battery-Emulator's Pylon-LV sends no DVL). */
  dischargeVoltageLimitV?: number;
};

export type CanStateOfCharge = Common & {
  kind: 'stateOfCharge';
  stateOfChargePct: number;
  stateOfHealthPct: number;
  /** SMA-style 0.01 % SOC in bytes 4–5 when DLC ≥ 6. */
  stateOfChargePrecisePct?: number;
  /** Bytes 6–7 ("Sofar": remaining capacity); the scale is unverified, so it stays raw. */
  remainingCapacityRaw?: number;
};

export type CanMeasurements = Common & {
  kind: 'measurements';
  voltageV: number;
  /** + = charging, − = discharging. */
  currentA: number;
  temperatureC: number;
  cycleCount?: number;
};

export type CanProtectionAlarm = Common & {
  kind: 'protectionAlarm';
  protection: PylonProtectionFlags;
  alarm: PylonAlarmFlags;
  moduleCount: number;
  /** Bytes 5–6, normally "PN". */
  tag: string;
  unknownBits: UnknownBit[];
};

export type CanRequests = Common & {
  kind: 'requests';
  chargeEnable: boolean;
  dischargeEnable: boolean;
  forceChargeRequestI: boolean;
  forceChargeRequestII: boolean;
  fullChargeRequest: boolean;
  unknownBits: UnknownBit[];
};

export type CanManufacturer = Common & { kind: 'manufacturer'; name: string; rawHex: string };

export type CanHeartbeat = Common & { kind: 'inverterHeartbeat'; rawHex: string };

/** SMA-style 0x35A: 2-bit fields, low bit of a pair = active (bytes 0–3 alarms, 4–7 warnings). */
export type CanSmaAlarms = Common & {
  kind: 'smaAlarms';
  alarms: string[];
  warnings: string[];
  unknownBits: UnknownBit[];
};

export type CanBatteryInfo = Common & {
  kind: 'batteryInfo';
  typeHex: string;
  versionHex: string;
  capacityAh: number;
  manufacturerIdHex: string;
};

/** Sofar-extended 0x359: pack configuration instead of flags. */
export type CanPackConfig = Common & {
  kind: 'packConfig';
  parallelPacks: number;
  modulesInSeries: number;
  canVersion: number;
  cellsInSeries: number;
  rawHex: string;
};

/** Sofar 0x30F byte 1: b0 discharge allowed, b1 charge allowed. */
export type CanEnableFlags = Common & {
  kind: 'enableFlags';
  chargeAllowed: boolean;
  dischargeAllowed: boolean;
  unknownBits: UnknownBit[];
};

/** An id this decoder has no layout for: reported with its bytes, never dropped. */
export type CanUnknown = Common & { kind: 'unknown'; rawHex: string };

export type DecodedCan =
  | CanLimits
  | CanStateOfCharge
  | CanMeasurements
  | CanProtectionAlarm
  | CanRequests
  | CanManufacturer
  | CanHeartbeat
  | CanSmaAlarms
  | CanBatteryInfo
  | CanPackConfig
  | CanEnableFlags
  | CanUnknown;
