import { MeterfabricError } from '../../core/errors.js';

/**
 * Stable error codes of the KNX adapter. Codec errors are thrown by the pure decoders; the
 * drivers catch them, log and drop the datagram (a malformed frame never tears a tunnel down).
 */
export type KnxErrorCode =
  | 'MF_KNX_FRAME_TRUNCATED'
  | 'MF_KNX_FRAME_HEADER'
  | 'MF_KNX_FRAME_LENGTH'
  | 'MF_KNX_FRAME_TOO_LARGE'
  | 'MF_KNX_UNKNOWN_SERVICE'
  | 'MF_KNX_STRUCTURE'
  | 'MF_KNX_CEMI'
  | 'MF_KNX_ADDRESS'
  | 'MF_KNX_DPT_UNKNOWN'
  | 'MF_KNX_DPT_RANGE'
  | 'MF_KNX_DPT_LENGTH'
  | 'MF_KNX_CONNECT_REJECTED'
  | 'MF_KNX_NO_MORE_CONNECTIONS'
  | 'MF_KNX_TIMEOUT'
  | 'MF_KNX_NOT_CONNECTED'
  | 'MF_KNX_NEGATIVE_CONFIRMATION'
  | 'MF_KNX_QUEUE_FULL'
  | 'MF_KNX_TUNNEL_CLOSED'
  | 'MF_KNX_BATCH_TOO_LARGE'
  | 'MF_KNX_CONFIG';

export class KnxError extends MeterfabricError {
  declare readonly code: KnxErrorCode;
  constructor(
    code: KnxErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, details, options);
    this.name = 'KnxError';
  }
}

export function isKnxError(err: unknown, code?: KnxErrorCode): err is KnxError {
  return err instanceof KnxError && (code === undefined || err.code === code);
}
