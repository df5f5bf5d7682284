import { MeterfabricError } from '../../core/errors.js';

/**
 * Stable codes for everything the battery adapter can reject. Codec errors are raised by pure
 * code and carry enough detail (the offending id, field, raw value) for a user to see what the
 * device sent; transport errors say which endpoint failed.
 */
export type BatteryCodecErrorCode =
  | 'MF_BATTERY_CAN_DLC'
  | 'MF_BATTERY_CAN_ID'
  | 'MF_BATTERY_CAN_FRAME'
  | 'MF_BATTERY_VALUE_RANGE'
  | 'MF_BATTERY_RS485_SOI'
  | 'MF_BATTERY_RS485_EOI'
  | 'MF_BATTERY_RS485_HEX'
  | 'MF_BATTERY_RS485_TRUNCATED'
  | 'MF_BATTERY_RS485_TOO_LONG'
  | 'MF_BATTERY_RS485_LCHKSUM'
  | 'MF_BATTERY_RS485_LENGTH'
  | 'MF_BATTERY_RS485_CHKSUM'
  | 'MF_BATTERY_RS485_UNKNOWN_CID'
  | 'MF_BATTERY_RS485_INFO';

export class BatteryCodecError extends MeterfabricError {
  declare readonly code: BatteryCodecErrorCode;
  constructor(code: BatteryCodecErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'BatteryCodecError';
  }
}

/** RTN values of a Pylontech RS485 reply (CID2 of a reply), spec §3.1 of the reference. */
export const returnCodeNames: Readonly<Record<number, string>> = {
  1: 'VER',
  2: 'CHKSUM',
  3: 'LCHKSUM',
  4: 'CID2',
  5: 'COMMAND_FORMAT',
  6: 'INVALID_DATA',
  144: 'ADR',
  145: 'INTERNAL_COMM',
};

const returnCodeAdvice: Readonly<Record<number, string>> = {
  1: 'the battery does not speak this protocol version; probe with CID2 0x4F and use the VER it returns',
  2: 'the battery saw a corrupted request (check wiring, termination and baud rate)',
  3: 'the battery saw a corrupted LENGTH field (check wiring, termination and baud rate)',
  4: 'the battery does not support this command',
  5: 'the request INFO had the wrong format (the 1-byte command must equal ADR)',
  6: 'the request carried invalid data',
  144: 'no pack answers at this address; masters are 0x02, slaves 0x03 and up',
  145: 'the master could not reach a slave pack over the link port',
};

/** A reply whose RTN is not 00: the battery refused or could not serve the request. */
export class BatteryReturnCodeError extends MeterfabricError {
  readonly returnCode: number;
  constructor(returnCode: number, details: Record<string, unknown> = {}) {
    const name = returnCodeNames[returnCode] ?? 'UNKNOWN';
    const hex = returnCode.toString(16).toUpperCase().padStart(2, '0');
    super(
      `MF_BATTERY_RTN_${name}`,
      `battery replied RTN 0x${hex} (${name}): ${returnCodeAdvice[returnCode] ?? 'undocumented return code'}`,
      { returnCode, ...details },
    );
    this.name = 'BatteryReturnCodeError';
    this.returnCode = returnCode;
  }
}

export type BatteryTransportErrorCode =
  | 'MF_BATTERY_TRANSPORT_CLOSED'
  | 'MF_BATTERY_TRANSPORT_CONNECT'
  | 'MF_BATTERY_TRANSPORT_TIMEOUT'
  | 'MF_BATTERY_TRANSPORT_BUSY'
  | 'MF_BATTERY_SOCKETCAN_UNAVAILABLE';

export class BatteryTransportError extends MeterfabricError {
  declare readonly code: BatteryTransportErrorCode;
  constructor(
    code: BatteryTransportErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, details, options);
    this.name = 'BatteryTransportError';
  }
}

export class BatteryConfigError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_BATTERY_CONFIG', message, details);
    this.name = 'BatteryConfigError';
  }
}
