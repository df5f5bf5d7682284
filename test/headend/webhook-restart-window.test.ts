import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CimPublisher, messageXml, type PublishedMessage } from '../../actors/integration/cim-publisher.js';
import { WebhookDispatcher } from '../../actors/integration/webhook-dispatcher.js';
import { ManualClock } from '../../core/clock.js';
import { waitFor } from '../support/wait.js';
import { readingBatch, startReceiver } from './webhook-receiver.js';

/**
 * A webhook subscriber that lagged across an integration restart (its full queue refused
 * messages, then the process stopped) takes the refused ones from the new publisher's window,
 * rebuilt from the CIM files: nothing is counted lost, everything arrives once, in order.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('webhook subscriber across an integration restart', () => {
  it('takes the messages its full queue refused from the rebuilt window after the restart', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-webhook-restart-'));
    cleanups.push(() => rm(outDir, { recursive: true, force: true }));
    const stateDir = join(outDir, '.webhook-state');
    const options = { outDir, source: 'webhook-restart', clock: new ManualClock(Date.UTC(2026, 2, 10)) };
    let up = false;
    const receiver = await startReceiver({ respond: () => (up ? 200 : 503) });
    cleanups.push(() => receiver.close());
    const start = (publisher: CimPublisher) =>
      WebhookDispatcher.start(publisher, {
        subscribers: [{ name: 'lagging', url: receiver.url }],
        stateDir,
        limits: { maxQueuedMessages: 2 },
        backoff: { initialDelayMs: 10, maxDelayMs: 50 },
      });

    const first = new CimPublisher(options);
    await first.restoreFromDisk();
    const firstDispatcher = await start(first);
    const all: PublishedMessage[] = [];
    for (let seq = 1; seq <= 6; seq++) {
      for (const m of await first.publish(readingBatch(`M${seq}`, seq), seq))
        all.push({ ...m, bytes: await first.bytesOf(m) });
      await firstDispatcher.flush();
    }
    expect(firstDispatcher.status()[0]).toMatchObject({ queued: 2, refused: 4, delivered: 0 });
    await firstDispatcher.close();

    // The restart: a new publisher over the same folder; the receiver is back.
    up = true;
    const before = receiver.received.length;
    const second = new CimPublisher(options);
    await second.restoreFromDisk();
    const dispatcher = await start(second);
    cleanups.push(() => dispatcher.close());
    await waitFor(() => dispatcher.status()[0]?.delivered === 6, 'all six delivered after the restart');
    expect(dispatcher.status()[0]).toMatchObject({ lost: 0, queued: 0 });
    // Once each after the restart (the receiver answered 2xx to every request).
    const ok = receiver.received.slice(before);
    expect(ok.map((r) => r.headers['idempotency-key'])).toEqual(all.map((m) => m.messageId));
    expect(ok.map((r) => r.body)).toEqual(all.map((m) => messageXml(m)));
  });
});
