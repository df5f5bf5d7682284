import { MeterfabricError } from '../../core/errors.js';

/**
 * Errors of the CIM layer. Codes are stable: boundaries (CIM replies, CLI exit codes) map
 * them once. `MF_UNKNOWN_QUANTITY` is thrown by the mapping tables when an adapter hands over
 * a quantity that has no CIM ReadingType; `MF_CIM_CODE` when a code string is malformed.
 */
export class UnknownQuantityError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_UNKNOWN_QUANTITY', message, details);
    this.name = 'UnknownQuantityError';
  }
}

export class CimCodeError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_CIM_CODE', message, details);
    this.name = 'CimCodeError';
  }
}

/** XML refused before or while parsing: too large, too deep, DOCTYPE/entities, not well-formed. */
export class CimXmlRefusedError extends MeterfabricError {
  constructor(
    code: 'MF_XML_TOO_LARGE' | 'MF_XML_TOO_DEEP' | 'MF_XML_DOCTYPE' | 'MF_XML_MALFORMED',
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(code, message, details);
    this.name = 'CimXmlRefusedError';
  }
}
