import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CimPublisher,
  messageXml,
  type PublishedMessage,
} from '../../actors/integration/cim-publisher.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import type { WebhookSubscriberConfig } from '../../actors/integration/webhook-config.js';
import {
  WebhookDispatcher,
  type WebhookDispatcherOptions,
} from '../../actors/integration/webhook-dispatcher.js';
import { verifyWebhook } from '../../actors/integration/webhook-signature.js';
import { consecutiveFreePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { eventBatch, newPublisher, type Receiver, readingBatch, startReceiver } from './webhook-receiver.js';

const secret = 'webhook-secret-0123456789';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-webhook-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function receiver(options: Parameters<typeof startReceiver>[0] = {}): Promise<Receiver> {
  const r = await startReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

async function dispatcher(
  publisher: CimPublisher,
  subscriber: Partial<WebhookSubscriberConfig> & { url: string },
  options: Partial<WebhookDispatcherOptions> & { stateDir: string },
): Promise<WebhookDispatcher> {
  const d = await WebhookDispatcher.start(publisher, {
    subscribers: [{ name: 'integrator-a', secret, ...subscriber }],
    backoff: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  let closed = false;
  const close = d.close.bind(d);
  d.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  cleanups.push(() => d.close());
  return d;
}

function publishing(publisher: CimPublisher, firstSeq = 0) {
  let seq = firstSeq;
  const all: PublishedMessage[] = [];
  return {
    all,
    async publish(...batches: OutputBatch[]) {
      // Their bytes as the publisher has them (no out dir: its window keeps them).
      for (const b of batches)
        for (const m of await publisher.publish(b, seq++))
          all.push({ ...m, bytes: await publisher.bytesOf(m) });
    },
  };
}

const ids = (received: Receiver['received']) => received.map((r) => r.headers['idempotency-key']);

describe('webhook delivery of CIM EventMessages', () => {
  it('delivers every message once, in order, as signed application/xml with the MessageID as idempotency key', async () => {
    const publisher = newPublisher();
    const out = publishing(publisher);
    const r = await receiver();
    const d = await dispatcher(publisher, { url: r.url }, { stateDir: await stateDir() });
    await out.publish(readingBatch('M1'), eventBatch('M1', 'corr-1'), readingBatch('M2'), readingBatch('M3'));
    await waitFor(() => d.status()[0]?.delivered === 4 && d.status()[0]?.queued === 0, 'four deliveries');
    expect(ids(r.received)).toEqual(out.all.map((m) => m.messageId));
    expect(r.received.map((m) => m.body)).toEqual(out.all.map((m) => messageXml(m)));
    for (const [i, m] of r.received.entries()) {
      expect(m.headers['content-type']).toBe('application/xml; charset=utf-8');
      expect(m.headers['x-meterfabric-noun']).toBe(out.all[i]?.noun);
      expect(m.headers['x-meterfabric-position']).toBe(String(out.all[i]?.position));
      expect(verifyWebhook({ secret, body: m.body, headers: m.headers, nowMs: Date.now() })).toMatchObject({
        ok: true,
      });
    }
    expect(r.received[1]?.headers['x-meterfabric-correlation-id']).toBe('corr-1');
    // A receiver holding another secret, or a body altered in transit, detects it.
    const [first] = r.received;
    expect(
      verifyWebhook({
        secret: 'another-secret-0123456',
        body: first?.body ?? '',
        headers: first?.headers ?? {},
        nowMs: Date.now(),
      }),
    ).toMatchObject({ ok: false, code: 'MF_WEBHOOK_SIGNATURE_INVALID' });
    expect(
      verifyWebhook({ secret, body: `${first?.body} `, headers: first?.headers ?? {}, nowMs: Date.now() }),
    ).toMatchObject({ ok: false, code: 'MF_WEBHOOK_SIGNATURE_INVALID' });
    // No stray redelivery once everything is acknowledged.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.received).toHaveLength(4);
  });

  it('delivers only the configured nouns', async () => {
    const publisher = newPublisher();
    const out = publishing(publisher);
    const r = await receiver();
    const d = await dispatcher(
      publisher,
      { url: r.url, nouns: ['EndDeviceEvents'] },
      { stateDir: await stateDir() },
    );
    await out.publish(
      readingBatch('M1'),
      eventBatch('M1', 'c-1'),
      readingBatch('M2'),
      eventBatch('M2', 'c-2'),
    );
    await waitFor(
      () => d.status()[0]?.delivered === 2 && d.status()[0]?.sourcePosition === out.all[3]?.position,
      'two events',
    );
    expect(r.received.map((m) => m.headers['x-meterfabric-correlation-id'])).toEqual(['c-1', 'c-2']);
  });

  it('retries a message the receiver answered with 500 and delivers it on the next 200, order kept', async () => {
    const publisher = newPublisher();
    const out = publishing(publisher);
    const r = await receiver({ respond: (_req, i) => (i === 0 ? 500 : 200) });
    const d = await dispatcher(publisher, { url: r.url }, { stateDir: await stateDir() });
    await out.publish(readingBatch('M1'), readingBatch('M2'));
    await waitFor(() => d.status()[0]?.delivered === 2, 'both delivered');
    const [first, second] = out.all.map((m) => m.messageId);
    expect(ids(r.received)).toEqual([first, first, second]);
    expect(r.received.map((m) => m.headers['x-meterfabric-attempt'])).toEqual(['1', '2', '1']);
    expect(d.status()[0]).toMatchObject({ failedAttempts: 1, lastError: 'receiver answered HTTP 500' });
  });

  it('gives up on an attempt the receiver never answers after requestTimeoutMs and retries it', async () => {
    const publisher = newPublisher();
    const out = publishing(publisher);
    const r = await receiver({ respond: (_req, i) => (i === 0 ? 'hang' : 200) });
    const d = await dispatcher(
      publisher,
      { url: r.url, requestTimeoutMs: 300 },
      { stateDir: await stateDir() },
    );
    await out.publish(readingBatch('M1'));
    await waitFor(() => d.status()[0]?.delivered === 1, 'delivery after the timeout');
    expect(d.status()[0]).toMatchObject({ failedAttempts: 1, lastError: 'no response within 300 ms' });
    expect(ids(r.received)).toEqual([out.all[0]?.messageId, out.all[0]?.messageId]);
  });

  it('keeps retrying while the receiver is down and delivers everything in order when it is back', async () => {
    const publisher = newPublisher();
    const out = publishing(publisher);
    // Below the range the OS hands out for port 0, so no parallel suite's server takes this
    // port while the receiver is down (it is bound only later, by `receiver({ port })`).
    const port = await consecutiveFreePorts(1);
    const d = await dispatcher(
      publisher,
      { url: `http://127.0.0.1:${port}/hook` },
      { stateDir: await stateDir() },
    );
    await out.publish(readingBatch('M1'), readingBatch('M2'), eventBatch('M3', 'c-3'), readingBatch('M4'));
    await waitFor(() => (d.status()[0]?.failedAttempts ?? 0) >= 3, 'failed attempts against a closed port');
    expect(d.status()[0]?.queued).toBe(4);
    const r = await receiver({ port });
    await waitFor(() => d.status()[0]?.delivered === 4, 'delivery after the receiver came back');
    expect(ids(r.received)).toEqual(out.all.map((m) => m.messageId));
  });

  it('resumes from its persisted position after a restart: nothing delivered twice, nothing skipped', async () => {
    const publisher = newPublisher();
    const out = publishing(publisher);
    const dir = await stateDir();
    const r = await receiver();
    const first = await dispatcher(publisher, { url: r.url }, { stateDir: dir });
    await out.publish(readingBatch('M1'), readingBatch('M2'));
    await waitFor(() => first.status()[0]?.delivered === 2, 'first two');
    await first.close();
    await out.publish(readingBatch('M3'), readingBatch('M4')); // published while the dispatcher is down
    const second = await dispatcher(publisher, { url: r.url }, { stateDir: dir });
    await out.publish(readingBatch('M5'));
    await waitFor(() => second.status()[0]?.delivered === 3, 'the rest after the restart');
    expect(ids(r.received)).toEqual(out.all.map((m) => m.messageId));
  });

  it('after a long stop, counts what the publisher no longer retains as lost and delivers the rest', async () => {
    const publisher = newPublisher(2);
    const out = publishing(publisher);
    const dir = await stateDir();
    const r = await receiver();
    const first = await dispatcher(publisher, { url: r.url }, { stateDir: dir });
    await out.publish(readingBatch('M1'));
    await waitFor(() => first.status()[0]?.delivered === 1, 'first');
    await first.close();
    await out.publish(readingBatch('M2'), readingBatch('M3'), readingBatch('M4'), readingBatch('M5'));
    const second = await dispatcher(publisher, { url: r.url }, { stateDir: dir });
    await waitFor(() => second.status()[0]?.delivered === 2, 'the two still retained');
    expect(second.status()[0]).toMatchObject({ lost: 2, sourcePosition: out.all[4]?.position });
    expect(ids(r.received)).toEqual([0, 3, 4].map((i) => out.all[i]?.messageId));
  });

  it('keeps undelivered messages on disk across a process restart (new publisher) and delivers them first', async () => {
    const dir = await stateDir();
    const oldPublisher = newPublisher();
    const down = publishing(oldPublisher);
    const failing = await receiver({ respond: () => 503 });
    const before = await dispatcher(oldPublisher, { url: failing.url }, { stateDir: dir });
    await down.publish(readingBatch('M1'), readingBatch('M2'), readingBatch('M3'));
    await waitFor(
      () => before.status()[0]?.queued === 3 && (before.status()[0]?.failedAttempts ?? 0) >= 1,
      'queued',
    );
    await before.close();
    await failing.close();
    // A new process: the stream (and so the positions) continue after the three batches.
    const restarted = newPublisher();
    const after = publishing(restarted, 3);
    const r = await receiver();
    const d = await dispatcher(restarted, { url: r.url }, { stateDir: dir });
    await after.publish(readingBatch('M9'));
    await waitFor(() => d.status()[0]?.delivered === 4, 'old queue then the new message');
    expect(ids(r.received)).toEqual([...down.all, ...after.all].map((m) => m.messageId));
  });

  it('bounds the queue: keeps the oldest, refuses new ones (metric), and takes them again from the publisher once drained', async () => {
    const publisher = newPublisher();
    const out = publishing(publisher);
    let healthy = false;
    const r = await receiver({ respond: () => (healthy ? 200 : 500) });
    const metrics = new Registry();
    const d = await dispatcher(
      publisher,
      { url: r.url },
      { stateDir: await stateDir(), limits: { maxQueuedMessages: 3 }, metrics },
    );
    await out.publish(...['M1', 'M2', 'M3', 'M4', 'M5', 'M6'].map((m) => readingBatch(m)));
    await waitFor(() => (d.status()[0]?.failedAttempts ?? 0) >= 1, 'a failed attempt');
    expect(d.status()[0]).toMatchObject({
      queued: 3,
      refused: 3,
      paused: true,
      sourcePosition: out.all[2]?.position,
    });
    const refused = await metrics.getSingleMetric('meterfabric_webhook_refused_total')?.get();
    expect(refused?.values).toEqual([{ labels: { subscriber: 'integrator-a' }, value: 3 }]);
    const queued = await metrics.getSingleMetric('meterfabric_webhook_queued_messages')?.get();
    expect(queued?.values).toEqual([{ labels: { subscriber: 'integrator-a' }, value: 3 }]);
    healthy = true;
    await waitFor(() => d.status()[0]?.delivered === 6, 'all six after draining');
    // Retried attempts repeat a MessageID; the distinct ones arrive in publish order.
    expect([...new Set(ids(r.received))]).toEqual(out.all.map((m) => m.messageId));
    expect(d.status()[0]).toMatchObject({ lost: 0, paused: false });
  });

  it('skips a message over maxMessageBytes (counted lost) instead of blocking the ones after it', async () => {
    const publisher = newPublisher();
    const out = publishing(publisher);
    const r = await receiver();
    const big = readingBatch('M-BIG');
    big.readings = Array.from({ length: 50 }, (_, i) => ({ ...big.readings[0]!, value: i }));
    await out.publish(readingBatch('M1'));
    const limit = out.all[0]!.bytes.byteLength + 200;
    const d = await dispatcher(
      publisher,
      { url: r.url },
      { stateDir: await stateDir(), limits: { maxMessageBytes: limit } },
    );
    await out.publish(big, readingBatch('M2'));
    expect(out.all[1]!.bytes.byteLength).toBeGreaterThan(limit);
    await waitFor(() => d.status()[0]?.delivered === 2, 'the two small messages');
    expect(ids(r.received)).toEqual([out.all[0]?.messageId, out.all[2]?.messageId]);
    expect(d.status()[0]).toMatchObject({ lost: 1, refused: 0, queued: 0 });
  });

  it('counts refused messages the publisher no longer retains as lost, and delivers the rest in order', async () => {
    const publisher = newPublisher(2);
    const out = publishing(publisher);
    let healthy = false;
    const r = await receiver({ respond: () => (healthy ? 200 : 500) });
    const d = await dispatcher(
      publisher,
      { url: r.url },
      { stateDir: await stateDir(), limits: { maxQueuedMessages: 3 } },
    );
    await out.publish(...['M1', 'M2', 'M3', 'M4', 'M5', 'M6'].map((m) => readingBatch(m)));
    healthy = true;
    await waitFor(() => d.status()[0]?.delivered === 5, 'five delivered');
    const positions = out.all.map((m) => m.messageId);
    expect([...new Set(ids(r.received))]).toEqual([0, 1, 2, 4, 5].map((i) => positions[i]));
    expect(d.status()[0]).toMatchObject({ lost: 1, refused: 3 });
  });
});
