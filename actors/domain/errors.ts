import { MeterfabricError } from '../../core/errors.js';

/**
 * Errors of the head-end's domain logic. Codes are stable: the CIM bridge maps them once to
 * ReplyCode FAILED + Error/code, and gRPC maps them to status codes.
 */
export type HeadendErrorCode =
  | 'MF_HEADEND_INVALID_INPUT' // a command's fields are missing or malformed
  | 'MF_HEADEND_UNKNOWN_METER' // no meter with that serial number is registered
  | 'MF_HEADEND_UNKNOWN_USAGE_POINT' // no usage point (POD) with that id is registered
  | 'MF_HEADEND_UNKNOWN_CONCENTRATOR' // no concentrator with that id is registered
  | 'MF_HEADEND_INVALID_TRANSITION' // the meter's lifecycle state does not allow the command
  | 'MF_HEADEND_LINK_CONFLICT' // the meter or usage point is already linked over that period
  | 'MF_HEADEND_QUEUE_FULL' // a bounded queue is full: retry later
  | 'MF_HEADEND_DEVICE_BUSY'; // the device's request queue is full

export class HeadendError extends MeterfabricError {
  override readonly code: HeadendErrorCode;
  constructor(code: HeadendErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'HeadendError';
    this.code = code;
  }
}

export function invalidInput(message: string, details: Record<string, unknown> = {}): HeadendError {
  return new HeadendError('MF_HEADEND_INVALID_INPUT', message, details);
}
