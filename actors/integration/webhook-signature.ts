import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, shared by the sender and (exported for) integrators' receivers.
 *
 * Every delivery carries `X-Meterfabric-Timestamp: <ms since the Unix epoch>` and
 * `X-Meterfabric-Signature: v1=<hex HMAC-SHA256>`, computed with the subscriber's shared secret
 * over `<timestamp>.<raw body bytes>`. The timestamp is inside the MAC so a captured request
 * cannot be replayed later with a fresh timestamp; receivers reject timestamps outside a
 * tolerance window and deduplicate by the MessageID (`Idempotency-Key`).
 */

export const SIGNATURE_HEADER = 'x-meterfabric-signature';
export const TIMESTAMP_HEADER = 'x-meterfabric-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
const SCHEME = 'v1=';

export function signWebhook(secret: string, timestampMs: number, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestampMs}.`);
  mac.update(body);
  return `${SCHEME}${mac.digest('hex')}`;
}

export type WebhookVerification =
  | { ok: true; timestampMs: number }
  | {
      ok: false;
      code: 'MF_WEBHOOK_SIGNATURE_MISSING' | 'MF_WEBHOOK_SIGNATURE_INVALID' | 'MF_WEBHOOK_TIMESTAMP_SKEW';
      reason: string;
    };

/**
 * Checks a received delivery: pass the raw body exactly as received (before any XML parsing)
 * and the request headers (lower-case names, as node:http gives them). Constant-time compare.
 */
export function verifyWebhook(input: {
  secret: string;
  body: string | Uint8Array;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  nowMs: number;
  /** Largest accepted difference between the timestamp header and nowMs (default 5 min). */
  toleranceMs?: number;
}): WebhookVerification {
  const signature = single(input.headers[SIGNATURE_HEADER]);
  const timestampText = single(input.headers[TIMESTAMP_HEADER]);
  if (signature === undefined || timestampText === undefined)
    return {
      ok: false,
      code: 'MF_WEBHOOK_SIGNATURE_MISSING',
      reason: `the ${SIGNATURE_HEADER} and ${TIMESTAMP_HEADER} headers are required`,
    };
  const timestampMs = Number(timestampText);
  if (!Number.isSafeInteger(timestampMs))
    return { ok: false, code: 'MF_WEBHOOK_SIGNATURE_INVALID', reason: 'the timestamp is not an integer' };
  const toleranceMs = input.toleranceMs ?? 5 * 60_000;
  if (Math.abs(input.nowMs - timestampMs) > toleranceMs)
    return {
      ok: false,
      code: 'MF_WEBHOOK_TIMESTAMP_SKEW',
      reason: `the timestamp is more than ${toleranceMs} ms away from now: a replay, or a clock to fix`,
    };
  const expected = Buffer.from(signWebhook(input.secret, timestampMs, input.body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return {
      ok: false,
      code: 'MF_WEBHOOK_SIGNATURE_INVALID',
      reason: 'the signature does not match the body: wrong secret, or the body was altered',
    };
  return { ok: true, timestampMs };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
}
