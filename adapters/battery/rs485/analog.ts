import { BatteryCodecError } from '../errors.js';
import { bytesToHex } from './frame.js';
import { InfoReader, kelvinTenthsToC, round3 } from './reader.js';

/**
 * Replies to 0x42 (analog values) and 0x44 (alarm info). Both start with a flag byte and then the
 * pack address, or, for a whole-system (`FF`) request, the pack count followed by one block per
 * pack (reference §3.2).
 */
export const maxCells = 32;
export const maxTemperatures = 16;
export const maxPacksPerReply = 16;

export type PackAnalog = {
  cellVoltagesV: number[];
  /** First entry is the BMS board, the rest the cell groups. */
  temperaturesC: number[];
  /** + = charging. */
  currentA: number;
  voltageV: number;
  remainingCapacityAh: number;
  totalCapacityAh: number;
  cycleCount: number;
  /** UD: 2 for packs ≤ 65 Ah, 4 when 24-bit capacities follow. */
  userDefinedCount: number;
};

export type AnalogReply = {
  infoFlag: number;
  /** The pack address (single-pack request) … */
  address?: number;
  packs: PackAnalog[];
  /** Bytes after the last pack block (newer firmware appends fields). */
  trailingHex: string;
};

function readPackAnalog(r: InfoReader): PackAnalog {
  const cellCount = r.count('cell count M', maxCells);
  const cellVoltagesV: number[] = [];
  for (let i = 0; i < cellCount; i++) cellVoltagesV.push(r.u16(`cell ${i + 1} voltage`) / 1000);
  const temperatureCount = r.count('temperature count N', maxTemperatures);
  const temperaturesC: number[] = [];
  for (let i = 0; i < temperatureCount; i++)
    temperaturesC.push(kelvinTenthsToC(r.s16(`temperature ${i + 1}`)));
  const currentA = round3(r.s16('current') / 10);
  const voltageV = r.u16('module voltage') / 1000;
  let remainingMah = r.u16('remaining capacity');
  const userDefinedCount = r.u8('UD');
  let totalMah = r.u16('total capacity');
  const cycleCount = r.u16('cycle count');
  if (userDefinedCount === 4) {
    // Packs > 65 Ah put FFFF in the u16 fields and the real values in 24-bit fields.
    remainingMah = r.u24('remaining capacity (24-bit)');
    totalMah = r.u24('total capacity (24-bit)');
  } else if (userDefinedCount !== 2) {
    throw new BatteryCodecError(
      'MF_BATTERY_VALUE_RANGE',
      `0x42 reply: UD = ${userDefinedCount}, expected 2 or 4`,
      {
        field: 'UD',
        value: userDefinedCount,
      },
    );
  }
  return {
    cellVoltagesV,
    temperaturesC,
    currentA,
    voltageV,
    remainingCapacityAh: remainingMah / 1000,
    totalCapacityAh: totalMah / 1000,
    cycleCount,
    userDefinedCount,
  };
}

/**
 * `allPacks`: the request INFO was `FF`, so byte 1 is a pack count. When unknown (a frame pasted
 * into the CLI), pass undefined: it tries the whole-system layout and falls back to single-pack
 * if the blocks do not line up with the INFO length.
 */
export function parseAnalogReply(info: Uint8Array, allPacks?: boolean): AnalogReply {
  if (allPacks === undefined) {
    try {
      const multi = parseAnalogReply(info, true);
      if (multi.trailingHex === '' && multi.packs.length > 0) return multi;
    } catch {
      // Not the whole-system layout; try single-pack below.
    }
    return parseAnalogReply(info, false);
  }
  const r = new InfoReader(info, '0x42 reply');
  const infoFlag = r.u8('INFOFLAG');
  if (allPacks) {
    const packCount = r.count('pack count', maxPacksPerReply);
    const packs: PackAnalog[] = [];
    for (let i = 0; i < packCount; i++) packs.push(readPackAnalog(r));
    return { infoFlag, packs, trailingHex: bytesToHex(r.rest()) };
  }
  const address = r.u8('ADR');
  const pack = readPackAnalog(r);
  return { infoFlag, address, packs: [pack], trailingHex: bytesToHex(r.rest()) };
}

export type LimitState = 'ok' | 'belowLowerLimit' | 'aboveUpperLimit' | 'other' | `unknown(0x${string})`;

function limitState(v: number): LimitState {
  switch (v) {
    case 0x00:
      return 'ok';
    case 0x01:
      return 'belowLowerLimit';
    case 0x02:
      return 'aboveUpperLimit';
    case 0xf0:
      return 'other';
    default:
      return `unknown(0x${v.toString(16).toUpperCase().padStart(2, '0')})`;
  }
}

export type AlarmStatus1 = {
  moduleUnderVoltage: boolean;
  chargeOverTemperature: boolean;
  dischargeOverTemperature: boolean;
  dischargeOverCurrent: boolean;
  chargeOverCurrent: boolean;
  cellUnderVoltage: boolean;
  moduleOverVoltage: boolean;
};

export type AlarmReply = {
  dataFlag: number;
  address: number;
  cellStates: LimitState[];
  temperatureStates: LimitState[];
  chargeCurrentState: LimitState;
  moduleVoltageState: LimitState;
  dischargeCurrentState: LimitState;
  status1: AlarmStatus1;
  status2: { usingPackPower: boolean; dischargeMosfetOn: boolean; chargeMosfetOn: boolean };
  status3: {
    effectiveChargeCurrent: boolean;
    effectiveDischargeCurrent: boolean;
    heater: boolean;
    fullyCharged: boolean;
    buzzer: boolean;
  };
  /** Cells (1-based) flagged in Status4/Status5. */
  cellsWithError: number[];
  /** Bits set that the spec does not define, as `statusN:0xMM`. */
  unknownBits: string[];
  trailingHex: string;
};

function strayBits(name: string, value: number, known: number): string[] {
  const stray = value & ~known & 0xff;
  return stray ? [`${name}:0x${stray.toString(16).toUpperCase().padStart(2, '0')}`] : [];
}

export function parseAlarmReply(info: Uint8Array): AlarmReply {
  const r = new InfoReader(info, '0x44 reply');
  const dataFlag = r.u8('DATAFLAG');
  const address = r.u8('ADR');
  const cellCount = r.count('cell count M', maxCells);
  const cellStates: LimitState[] = [];
  for (let i = 0; i < cellCount; i++) cellStates.push(limitState(r.u8(`cell ${i + 1} state`)));
  const temperatureCount = r.count('temperature count N', maxTemperatures);
  const temperatureStates: LimitState[] = [];
  for (let i = 0; i < temperatureCount; i++)
    temperatureStates.push(limitState(r.u8(`temperature ${i + 1} state`)));
  const chargeCurrentState = limitState(r.u8('charge current state'));
  const moduleVoltageState = limitState(r.u8('module voltage state'));
  const dischargeCurrentState = limitState(r.u8('discharge current state'));
  const s1 = r.u8('Status1');
  const s2 = r.u8('Status2');
  const s3 = r.u8('Status3');
  const s4 = r.u8('Status4');
  const s5 = r.u8('Status5');
  const cellsWithError: number[] = [];
  for (let bit = 0; bit < 8; bit++) if (s4 & (1 << bit)) cellsWithError.push(bit + 1);
  for (let bit = 0; bit < 8; bit++) if (s5 & (1 << bit)) cellsWithError.push(bit + 9);
  return {
    dataFlag,
    address,
    cellStates,
    temperatureStates,
    chargeCurrentState,
    moduleVoltageState,
    dischargeCurrentState,
    status1: {
      moduleUnderVoltage: (s1 & 0x80) !== 0,
      chargeOverTemperature: (s1 & 0x40) !== 0,
      dischargeOverTemperature: (s1 & 0x20) !== 0,
      dischargeOverCurrent: (s1 & 0x10) !== 0,
      chargeOverCurrent: (s1 & 0x04) !== 0,
      cellUnderVoltage: (s1 & 0x02) !== 0,
      moduleOverVoltage: (s1 & 0x01) !== 0,
    },
    status2: {
      usingPackPower: (s2 & 0x08) !== 0,
      dischargeMosfetOn: (s2 & 0x04) !== 0,
      chargeMosfetOn: (s2 & 0x02) !== 0,
    },
    status3: {
      effectiveChargeCurrent: (s3 & 0x80) !== 0,
      effectiveDischargeCurrent: (s3 & 0x40) !== 0,
      heater: (s3 & 0x20) !== 0,
      fullyCharged: (s3 & 0x08) !== 0,
      buzzer: (s3 & 0x01) !== 0,
    },
    cellsWithError,
    unknownBits: [
      ...strayBits('status1', s1, 0xf7),
      ...strayBits('status2', s2, 0x0e),
      ...strayBits('status3', s3, 0xe9),
    ],
    trailingHex: bytesToHex(r.rest()),
  };
}
