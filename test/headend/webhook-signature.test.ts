import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../actors/integration/webhook-backoff.js';
import { signWebhook, verifyWebhook } from '../../actors/integration/webhook-signature.js';

const secret = 'webhook-secret-0123456789';
const body = '<?xml version="1.0"?><EventMessage>café ☕</EventMessage>';
const nowMs = 1_773_100_800_000;

function headersFor(signature: string, timestampMs = nowMs) {
  return { 'x-meterfabric-signature': signature, 'x-meterfabric-timestamp': String(timestampMs) };
}

describe('webhook signature', () => {
  it('is HMAC-SHA256 over "<timestamp>.<body>", as computed independently by openssl', () => {
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret, '-r'], {
      input: Buffer.from(`${nowMs}.${body}`, 'utf8'),
    })
      .toString()
      .split(' ')[0];
    expect(signWebhook(secret, nowMs, body)).toBe(`v1=${openssl}`);
  });

  it('verifies a genuine delivery', () => {
    const headers = headersFor(signWebhook(secret, nowMs, body));
    expect(verifyWebhook({ secret, body, headers, nowMs: nowMs + 1_000 })).toEqual({
      ok: true,
      timestampMs: nowMs,
    });
  });

  it.each([
    ['a wrong secret', () => headersFor(signWebhook('another-secret-0123456', nowMs, body)), body],
    ['an altered body', () => headersFor(signWebhook(secret, nowMs, body)), body.replace('café', 'cafe')],
    [
      'a timestamp swapped after signing',
      () => headersFor(signWebhook(secret, nowMs, body), nowMs + 1),
      body,
    ],
    ['a truncated signature', () => headersFor(signWebhook(secret, nowMs, body).slice(0, 20)), body],
  ])('detects %s (MF_WEBHOOK_SIGNATURE_INVALID)', (_name, headers, received) => {
    expect(verifyWebhook({ secret, body: received, headers: headers(), nowMs })).toMatchObject({
      ok: false,
      code: 'MF_WEBHOOK_SIGNATURE_INVALID',
    });
  });

  it('refuses a missing signature and a replay outside the tolerance window', () => {
    expect(verifyWebhook({ secret, body, headers: {}, nowMs })).toMatchObject({
      code: 'MF_WEBHOOK_SIGNATURE_MISSING',
    });
    const old = headersFor(signWebhook(secret, nowMs - 10 * 60_000, body), nowMs - 10 * 60_000);
    expect(verifyWebhook({ secret, body, headers: old, nowMs })).toMatchObject({
      code: 'MF_WEBHOOK_TIMESTAMP_SKEW',
    });
  });
});

describe('webhook retry backoff', () => {
  it('stays within [d/2, d] of the capped exponential delay for every attempt and random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r) => {
          const policy = { initialDelayMs: 500, maxDelayMs: 60_000 };
          const ceiling = Math.min(60_000, 500 * 2 ** Math.min(attempt - 1, 30));
          const delay = retryDelayMs(policy, attempt, () => r);
          return delay >= Math.floor(ceiling / 2) && delay <= ceiling;
        },
      ),
    );
  });

  it('doubles per attempt until the cap', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(policy, a, () => 1))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });
});
