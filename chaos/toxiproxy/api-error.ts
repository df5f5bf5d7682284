import { MeterfabricError } from '../../core/errors.js';

/**
 * An error the Toxiproxy API returns as `{"error": message, "status": code}` with that HTTP
 * status (Go's ApiError). `MF_TOXIPROXY_<status>` is its stable code inside meterfabric.
 */
export class ApiError extends MeterfabricError {
  readonly status: number;

  constructor(message: string, status: number) {
    super(`MF_TOXIPROXY_${status}`, message, { status });
    this.name = 'ToxiproxyApiError';
    this.status = status;
  }

  body(): { error: string; status: number } {
    return { error: this.message, status: this.status };
  }
}

/** Go's joinError(err, ErrBadRequestBody). */
export function badRequestBody(detail: string): ApiError {
  return new ApiError(`bad request body: ${detail}`, 400);
}

/** Go's joinError(fmt.Errorf(field), ErrMissingField). */
export function missingField(field: string): ApiError {
  return new ApiError(`missing required field: ${field}`, 400);
}

export const errProxyNotFound = new ApiError('proxy not found', 404);
export const errProxyAlreadyExists = new ApiError('proxy already exists', 409);
export const errToxicAlreadyExists = new ApiError('toxic already exists', 409);
export const errToxicNotFound = new ApiError('toxic not found', 404);
