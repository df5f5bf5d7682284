import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startIntegrationMetrics } from '../../actors/integration/bridge/metrics-endpoint.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import { WebhookDispatcher } from '../../actors/integration/webhook-dispatcher.js';
import { ManualClock } from '../../core/clock.js';
import { parsePrometheus, type Sample } from '../support/prometheus.js';
import { waitFor } from '../support/wait.js';
import { newPublisher, readingBatch, startReceiver } from './webhook-receiver.js';

/** Webhook metrics on the metrics endpoint of the process running the dispatcher, scraped and parsed. */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function value(samples: Sample[], name: string, subscriber: string): number | undefined {
  return samples.find((s) => s.name === name && s.labels.subscriber === subscriber)?.value;
}

function bigBatch(): OutputBatch {
  const one = readingBatch('BIG').readings[0] as OutputBatch['readings'][number];
  return {
    csv: {},
    readings: Array.from({ length: 200 }, (_, i) => ({ ...one, meterSerial: `BIG${i}` })),
    events: [],
  };
}

describe('webhook metrics on the metrics endpoint', () => {
  it('exposes queue depth, delivered, retried, failed permanently and last success age per subscriber', async () => {
    const endpoint = await startIntegrationMetrics('127.0.0.1:0');
    cleanups.push(() => endpoint.close());
    const flaky = await startReceiver({ respond: (_r, i) => (i < 2 ? 503 : 200) });
    cleanups.push(() => flaky.close());
    const down = await startReceiver({ respond: () => 500 });
    cleanups.push(() => down.close());
    const stateDir = await mkdtemp(join(tmpdir(), 'mf-webhook-metrics-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const clock = new ManualClock(Date.UTC(2026, 2, 10, 12));
    const publisher = newPublisher();
    const dispatcher = await WebhookDispatcher.start(publisher, {
      subscribers: [
        { name: 'flaky', url: flaky.url },
        { name: 'down', url: down.url },
      ],
      stateDir,
      backoff: { initialDelayMs: 10, maxDelayMs: 50 },
      limits: { maxMessageBytes: 20_000 },
      clock,
      metrics: endpoint.registry,
    });
    cleanups.push(() => dispatcher.close());

    const small = [readingBatch('M1'), readingBatch('M2'), readingBatch('M3')];
    for (const [seq, b] of small.entries()) await publisher.publish(b, seq);
    const big = await publisher.publish(bigBatch(), 10);
    expect(big[0]?.byteLength).toBeGreaterThan(20_000);
    await waitFor(() => dispatcher.status()[0]?.delivered === 3, 'flaky delivered 3');
    await waitFor(() => (dispatcher.status()[1]?.failedAttempts ?? 0) >= 2, 'down retried twice');
    clock.advance(30_000);

    const response = await fetch(`http://${endpoint.address}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const samples = parsePrometheus(await response.text());
    expect(value(samples, 'meterfabric_webhook_delivered_total', 'flaky')).toBe(3);
    expect(value(samples, 'meterfabric_webhook_failed_attempts_total', 'flaky')).toBe(2);
    expect(value(samples, 'meterfabric_webhook_queued_messages', 'flaky')).toBe(0);
    // The oversized message is skipped for every subscriber: failed permanently.
    expect(value(samples, 'meterfabric_webhook_lost_total', 'flaky')).toBe(1);
    expect(value(samples, 'meterfabric_webhook_lost_total', 'down')).toBe(1);
    expect(value(samples, 'meterfabric_webhook_last_success_age_seconds', 'flaky')).toBe(30);
    // A receiver that never answered 2xx: its queue holds the messages, retries count up, and
    // the age runs from the dispatcher's start.
    expect(value(samples, 'meterfabric_webhook_queued_messages', 'down')).toBe(3);
    expect(value(samples, 'meterfabric_webhook_delivered_total', 'down') ?? 0).toBe(0);
    expect(value(samples, 'meterfabric_webhook_failed_attempts_total', 'down')).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'meterfabric_webhook_last_success_age_seconds', 'down')).toBe(30);
    // Process metrics are there too (the same endpoint serves the process).
    expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
    expect((await fetch(`http://${endpoint.address}/health`)).status).toBe(200);
  }, 60_000);

  it('refuses a --metrics value that is not host:port', async () => {
    await expect(startIntegrationMetrics('9100')).rejects.toMatchObject({ code: 'MF_CONFIG_INVALID' });
  });
});
