import { BatteryCodecError, BatteryReturnCodeError } from '../errors.js';
import { type AlarmReply, type AnalogReply, parseAlarmReply, parseAnalogReply } from './analog.js';
import { bytesToHex, encodeRs485Frame, type Rs485Frame } from './frame.js';
import { InfoReader, kelvinTenthsToC, round3 } from './reader.js';

/** Pylontech RS485 commands (CID1 0x46 = battery), reference §3.2. */
export const batteryCid1 = 0x46;
export const defaultProtocolVersion = 0x20;
/** INFO `FF` at the master address: the whole system (valid for 0x42 and 0x44 only). */
export const allPacksAddress = 0xff;

export const commands = {
  analogValues: 0x42,
  alarmInfo: 0x44,
  systemParameters: 0x47,
  protocolVersion: 0x4f,
  manufacturer: 0x51,
  chargeManagement: 0x92,
  serialNumber: 0x93,
} as const;

export type Rs485Command = (typeof commands)[keyof typeof commands];

const knownCommands: ReadonlySet<number> = new Set(Object.values(commands));

export function isKnownCommand(cid2: number): cid2 is Rs485Command {
  return knownCommands.has(cid2);
}

function unknownCid(cid1: number, cid2: number): BatteryCodecError {
  return new BatteryCodecError(
    'MF_BATTERY_RS485_UNKNOWN_CID',
    `RS485 CID1 0x${cid1.toString(16).toUpperCase()} / CID2 0x${cid2.toString(16).toUpperCase()} is not a battery command this adapter knows (0x42, 0x44, 0x47, 0x4F, 0x51, 0x92, 0x93)`,
    { cid1, cid2 },
  );
}

/**
 * Builds a request. `target` is the pack address (master 0x02, slaves 0x03…) that goes in ADR and
 * in the 1-byte INFO; `allPacks` sends INFO `FF` (0x42/0x44 only).
 */
export function buildRequest(
  command: Rs485Command,
  target: number,
  options: { allPacks?: boolean; ver?: number } = {},
): string {
  const ver = options.ver ?? defaultProtocolVersion;
  let info: Uint8Array;
  switch (command) {
    case commands.protocolVersion:
    case commands.manufacturer:
    case commands.systemParameters:
      info = new Uint8Array(0);
      break;
    default:
      if (options.allPacks && command !== commands.analogValues && command !== commands.alarmInfo) {
        throw new BatteryCodecError(
          'MF_BATTERY_RS485_INFO',
          'only 0x42 and 0x44 accept the whole-system address FF',
          {
            command,
          },
        );
      }
      info = Uint8Array.of(options.allPacks ? allPacksAddress : target);
  }
  return encodeRs485Frame({ ver, adr: target, cid1: batteryCid1, cid2: command, info });
}

export type DecodedRequest = { command: Rs485Command; ver: number; adr: number; infoHex: string };

/** Validates a request frame's command (used by the simulator's serial server). */
export function decodeRequest(frame: Rs485Frame): DecodedRequest {
  if (frame.cid1 !== batteryCid1 || !isKnownCommand(frame.cid2)) throw unknownCid(frame.cid1, frame.cid2);
  return { command: frame.cid2, ver: frame.ver, adr: frame.adr, infoHex: bytesToHex(frame.info) };
}

export type SystemParameters = {
  infoFlag: number;
  cellHighVoltageV: number;
  cellLowVoltageV: number;
  cellUnderVoltageV: number;
  chargeHighTemperatureC: number;
  chargeLowTemperatureC: number;
  chargeCurrentLimitA: number;
  moduleHighVoltageV: number;
  moduleLowVoltageV: number;
  moduleUnderVoltageV: number;
  dischargeHighTemperatureC: number;
  dischargeLowTemperatureC: number;
  dischargeCurrentLimitA: number;
};

export type ManufacturerInfo = { deviceName: string; softwareVersionHex: string; manufacturerName: string };

export type ChargeManagement = {
  address: number;
  chargeVoltageLimitV: number;
  dischargeVoltageLimitV: number;
  chargeCurrentLimitA: number;
  /** Negative in the protocol (discharge direction); kept as sent. */
  dischargeCurrentLimitA: number;
  chargeEnable: boolean;
  dischargeEnable: boolean;
  chargeImmediately1: boolean;
  chargeImmediately2: boolean;
  fullChargeRequest: boolean;
  unknownStatusBits: number;
};

export type DecodedReply =
  | { command: 0x42; ver: number; adr: number; value: AnalogReply }
  | { command: 0x44; ver: number; adr: number; value: AlarmReply }
  | { command: 0x47; ver: number; adr: number; value: SystemParameters }
  | { command: 0x4f; ver: number; adr: number; value: { protocolVersion: string } }
  | { command: 0x51; ver: number; adr: number; value: ManufacturerInfo }
  | { command: 0x92; ver: number; adr: number; value: ChargeManagement }
  | { command: 0x93; ver: number; adr: number; value: { address: number; serialNumber: string } };

function parseSystemParameters(info: Uint8Array): SystemParameters {
  const r = new InfoReader(info, '0x47 reply');
  return {
    infoFlag: r.u8('INFOFLAG'),
    cellHighVoltageV: r.u16('cell high voltage') / 1000,
    cellLowVoltageV: r.u16('cell low voltage') / 1000,
    cellUnderVoltageV: r.u16('cell under voltage') / 1000,
    chargeHighTemperatureC: kelvinTenthsToC(r.s16('charge high temperature')),
    chargeLowTemperatureC: kelvinTenthsToC(r.s16('charge low temperature')),
    chargeCurrentLimitA: round3(r.s16('charge current limit') / 10),
    moduleHighVoltageV: r.u16('module high voltage') / 1000,
    moduleLowVoltageV: r.u16('module low voltage') / 1000,
    moduleUnderVoltageV: r.u16('module under voltage') / 1000,
    dischargeHighTemperatureC: kelvinTenthsToC(r.s16('discharge high temperature')),
    dischargeLowTemperatureC: kelvinTenthsToC(r.s16('discharge low temperature')),
    dischargeCurrentLimitA: round3(r.s16('discharge current limit') / 10),
  };
}

function parseChargeManagement(info: Uint8Array): ChargeManagement {
  const r = new InfoReader(info, '0x92 reply');
  const address = r.u8('ADR');
  const chargeVoltageLimitV = r.u16('CVL') / 1000;
  const dischargeVoltageLimitV = r.u16('DVL') / 1000;
  const chargeCurrentLimitA = round3(r.s16('CCL') / 10);
  const dischargeCurrentLimitA = round3(r.s16('DCL') / 10);
  const status = r.u8('status');
  return {
    address,
    chargeVoltageLimitV,
    dischargeVoltageLimitV,
    chargeCurrentLimitA,
    dischargeCurrentLimitA,
    chargeEnable: (status & 0x80) !== 0,
    dischargeEnable: (status & 0x40) !== 0,
    chargeImmediately1: (status & 0x20) !== 0,
    chargeImmediately2: (status & 0x10) !== 0,
    fullChargeRequest: (status & 0x08) !== 0,
    unknownStatusBits: status & 0x07,
  };
}

/**
 * Decodes a reply to `command`. A non-zero RTN (the reply's CID2) throws BatteryReturnCodeError;
 * an INFO that does not fit the command's layout throws MF_BATTERY_RS485_INFO.
 * `allPacks`: see parseAnalogReply.
 */
export function decodeReply(
  frame: Rs485Frame,
  command: number,
  options: { allPacks?: boolean } = {},
): DecodedReply {
  if (frame.cid1 !== batteryCid1 || !isKnownCommand(command)) throw unknownCid(frame.cid1, command);
  if (frame.cid2 !== 0) throw new BatteryReturnCodeError(frame.cid2, { command, adr: frame.adr });
  const { ver, adr, info } = frame;
  switch (command) {
    case commands.analogValues:
      return { command, ver, adr, value: parseAnalogReply(info, options.allPacks) };
    case commands.alarmInfo:
      return { command, ver, adr, value: parseAlarmReply(info) };
    case commands.systemParameters:
      return { command, ver, adr, value: parseSystemParameters(info) };
    case commands.protocolVersion:
      return { command, ver, adr, value: { protocolVersion: `${ver >> 4}.${ver & 0xf}` } };
    case commands.manufacturer: {
      const r = new InfoReader(info, '0x51 reply');
      return {
        command,
        ver,
        adr,
        value: {
          deviceName: r.ascii(10, 'device name'),
          softwareVersionHex: bytesToHex(Uint8Array.of(r.u8('software version'), r.u8('software version'))),
          manufacturerName: r.ascii(20, 'manufacturer name'),
        },
      };
    }
    case commands.chargeManagement:
      return { command, ver, adr, value: parseChargeManagement(info) };
    case commands.serialNumber: {
      const r = new InfoReader(info, '0x93 reply');
      return {
        command,
        ver,
        adr,
        value: { address: r.u8('ADR'), serialNumber: r.ascii(16, 'serial number') },
      };
    }
  }
}
