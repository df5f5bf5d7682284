import { cpSync, mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointConsumer } from '../../actors/integration/checkpoint-consumer.js';
import type { StreamBatch } from '../../actors/integration/checkpoint-stream.js';
import { IntegrationConsumer } from '../../actors/integration/integration.js';
import { WebhookDispatcher } from '../../actors/integration/webhook-dispatcher.js';
import { WebhookOutbox } from '../../actors/integration/webhook-outbox.js';
import { emptyRegistry } from '../../actors/registry/types.js';
import type { TLogRecord } from '../../actors/tlog/records.js';
import { classify, type RoutedRecord } from '../../actors/tlog/router.js';
import { ManualClock } from '../../core/clock.js';
import { consecutiveFreePorts } from '../support/ports.js';

const t0 = Date.UTC(2026, 2, 10);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-checkpoint-webhook-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function reading(meterSerial: string, value: number): RoutedRecord {
  const record: TLogRecord = {
    type: 'reading',
    concentratorId: 'C1',
    collectedAtMs: t0 + 3_600_000,
    reading: {
      meterSerial,
      usagePoint: `P-${meterSerial}`,
      kind: 'interval',
      quantity: { source: 'profile', quantity: 'activeImportInterval' },
      value,
      unit: 'Wh',
      timestampMs: t0 + 3_600_000,
      intervalSeconds: 3600,
    },
  };
  return { id: `${meterSerial}-${value}`, ...classify(record), record };
}

/** A receiver nobody listens on: every delivery attempt fails, so messages stay queued. */
async function downReceiverUrl(): Promise<string> {
  // Below the OS's port-0 range: a port the OS picked and released could go to a parallel test's listener.
  return `http://127.0.0.1:${await consecutiveFreePorts(1)}/hook`;
}

/**
 * The real dispatcher's flush, slowed down and counted: a consumer that did not await it would
 * return before `flushes` counts it (the store's own write is too quick to catch in the act).
 */
function slowFlush(webhook: WebhookDispatcher): { flush(): Promise<void>; flushes: number } {
  const queue = {
    flushes: 0,
    async flush() {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await webhook.flush();
      queue.flushes++;
    },
  };
  return queue;
}

/**
 * What a crash right now would leave of the webhook queue: the store's files copied at this
 * instant (synchronously, so no pending write can land in between), opened as a new process would.
 */
async function queuedAfterCrash(stateDir: string, subscriber: string): Promise<number> {
  // No await before the copy: it must see the store exactly as the caller's await left it.
  const snapshotDir = mkdtempSync(join(tmpdir(), 'mf-webhook-snapshot-'));
  cleanups.push(() => rm(snapshotDir, { recursive: true, force: true }));
  const snapshot = join(snapshotDir, 'webhook-state');
  cpSync(stateDir, snapshot, { recursive: true });
  const outbox = await WebhookOutbox.open(snapshot);
  try {
    return await outbox.queuedCount(subscriber);
  } finally {
    await outbox.close();
  }
}

describe('integration consumers with a webhook: a written batch is in the durable webhook queue', () => {
  it('CheckpointConsumer.write returns only once the entry’s messages are persisted, receiver down', {
    timeout: 60_000,
  }, async () => {
    const dir = await tempDir();
    const clock = new ManualClock(t0 + 3_600_000);
    const consumer = await CheckpointConsumer.open({
      outDir: join(dir, 'out'),
      organization: 'IT',
      server: 'n1',
      clock,
      registry: emptyRegistry,
    });
    const stateDir = join(dir, 'webhook-state');
    const webhook = await WebhookDispatcher.start(consumer.cim, {
      subscribers: [{ name: 'integrator', url: await downReceiverUrl() }],
      stateDir,
      backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    cleanups.push(() => webhook.close());
    const durable = slowFlush(webhook);
    consumer.attachWebhook(durable);
    const entry = (meters: string[]): StreamBatch[] => [
      { type: 'batch', atMs: t0 + 3_600_000, routed: meters.map((m, i) => reading(m, i)) },
    ];
    await consumer.write(1, entry(['M1', 'M2']));
    expect(durable.flushes).toBe(1);
    expect(await queuedAfterCrash(stateDir, 'integrator')).toBe(consumer.cim.publishedCount);
    expect(consumer.cim.publishedCount).toBeGreaterThanOrEqual(1);
    await consumer.write(2, entry(['M3']));
    expect(durable.flushes).toBe(2);
    const published = consumer.cim.publishedCount;
    expect(await queuedAfterCrash(stateDir, 'integrator')).toBe(published);
    // The receiver is down: nothing was delivered, everything is still queued.
    expect(webhook.status()[0]).toMatchObject({ delivered: 0, queued: published });
  });

  it('IntegrationConsumer.sink (in process) resolves only once the batch’s messages are persisted', {
    timeout: 60_000,
  }, async () => {
    const dir = await tempDir();
    const consumer = await IntegrationConsumer.open({
      outDir: join(dir, 'out'),
      organization: 'IT',
      server: 'n1',
      clock: new ManualClock(t0 + 3_600_000),
      registry: emptyRegistry(),
    });
    const stateDir = join(dir, 'webhook-state');
    const webhook = await WebhookDispatcher.start(consumer.cim, {
      subscribers: [{ name: 'integrator', url: await downReceiverUrl() }],
      stateDir,
      backoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    cleanups.push(() => webhook.close());
    const durable = slowFlush(webhook);
    consumer.attachWebhook(durable);
    await consumer.sink([reading('M1', 1), reading('M2', 2)]);
    expect(durable.flushes).toBe(1);
    expect(consumer.cim.publishedCount).toBeGreaterThanOrEqual(1);
    expect(await queuedAfterCrash(stateDir, 'integrator')).toBe(consumer.cim.publishedCount);
  });
});
