import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookSubscriberConfig } from '../../actors/integration/webhook-config.js';
import { WebhookDispatcher } from '../../actors/integration/webhook-dispatcher.js';
import { makePki, type TestPki } from '../support/tls.js';
import { waitFor } from '../support/wait.js';
import { newPublisher, readingBatch, startReceiver } from './webhook-receiver.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await makePki(['meterfabric-headend']);
}, 60_000);
afterAll(async () => {
  await pki?.remove();
});
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function deliverOne(
  receiverTls: { certPem: string; keyPem: string; clientCaPem?: string },
  subscriber: Omit<WebhookSubscriberConfig, 'name' | 'url'>,
) {
  const r = await startReceiver({ tls: receiverTls });
  cleanups.push(() => r.close());
  const dir = await mkdtemp(join(tmpdir(), 'mf-webhook-tls-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const publisher = newPublisher();
  const d = await WebhookDispatcher.start(publisher, {
    subscribers: [{ name: 'tls', url: r.url, ...subscriber }],
    stateDir: dir,
    backoff: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  cleanups.push(() => d.close());
  const [message] = await publisher.publish(readingBatch('M1'), 0);
  return { r, d, message };
}

describe('webhook delivery over https', () => {
  it('delivers to an https receiver whose certificate the configured CA signed', async () => {
    const { r, d, message } = await deliverOne(pki.server, { caPem: pki.caPem });
    expect(r.url).toMatch(/^https:/);
    await waitFor(() => d.status()[0]?.delivered === 1, 'https delivery');
    expect(r.received.map((m) => m.headers['idempotency-key'])).toEqual([message?.messageId]);
  });

  it('does not deliver to a receiver whose certificate it cannot verify (keeps retrying)', async () => {
    const { r, d } = await deliverOne(pki.server, { caPem: pki.strangerCaPem });
    await waitFor(() => (d.status()[0]?.failedAttempts ?? 0) >= 2, 'failed TLS attempts');
    expect(d.status()[0]).toMatchObject({ delivered: 0, queued: 1 });
    expect(d.status()[0]?.lastError).toMatch(/certificate/i);
    expect(r.received).toEqual([]);
  });

  it('presents its client certificate to a receiver that requires mTLS', async () => {
    const client = pki.clients['meterfabric-headend']!;
    const { r, d } = await deliverOne(
      { ...pki.server, clientCaPem: pki.caPem },
      { caPem: pki.caPem, clientCertPem: client.certPem, clientKeyPem: client.keyPem },
    );
    await waitFor(() => d.status()[0]?.delivered === 1, 'mTLS delivery');
    expect(r.received).toHaveLength(1);
  });
});
