import { MeterfabricError } from '../../core/errors.js';

/**
 * Stable error codes of the modem collector and the IEC 62056-21 readout. Each message says
 * what was wrong and what to do; callers match on `code`, never on the text.
 */
export type ModemErrorCode =
  | 'MF_MODEM_IDENT_MALFORMED'
  | 'MF_MODEM_IDENT_TOO_LONG'
  | 'MF_MODEM_IDENT_TIMEOUT'
  | 'MF_MODEM_IMEI_INVALID'
  | 'MF_MODEM_UNKNOWN_REFUSED'
  | 'MF_MODEM_PORT_RANGE_EXHAUSTED'
  | 'MF_MODEM_NOT_FOUND'
  | 'MF_MODEM_OFFLINE'
  | 'MF_MODEM_BUSY'
  | 'MF_MODEM_CLIENT_DENIED'
  | 'MF_MODEM_IMPORT_INVALID'
  | 'MF_MODEM_FORWARD_DENIED'
  | 'MF_IEC62056_CHECKSUM'
  | 'MF_IEC62056_TRUNCATED'
  | 'MF_IEC62056_MALFORMED'
  | 'MF_IEC62056_TOO_LARGE'
  | 'MF_IEC62056_TIMEOUT'
  | 'MF_IEC62056_UNKNOWN_OBIS';

export class ModemError extends MeterfabricError {
  declare readonly code: ModemErrorCode;
  constructor(
    code: ModemErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, details, options);
    this.name = 'ModemError';
  }
}
