import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type GrpcBridge,
  HeadendService,
  startGrpcBridge,
} from '../../actors/integration/bridge/grpc-bridge.js';
import { startIntegrationMetrics } from '../../actors/integration/bridge/metrics-endpoint.js';
import { CimPublisher, messageXml, type PublishedEntry } from '../../actors/integration/cim-publisher.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import { ManualClock } from '../../core/clock.js';
import { parsePrometheus } from '../support/prometheus.js';
import { setUpDay } from './day-fixture.js';

/**
 * SubscribeEvents with a client that stops reading while messages are published (session 18):
 * the server keeps at most `maxSubscriberBufferedBytes` written to the stream and not taken by
 * the transport. With an out dir the subscriber is detached and caught up from the files once the
 * client reads again (every message once, in order, the files' bytes); without one the stream
 * ends with RESOURCE_EXHAUSTED and the position to resume from. Real server, real client, real
 * files. Each scenario also checks meterfabric_subscribe_events_* as scraped from the process's
 * metrics endpoint.
 */

type Streamed = { position: string | number; noun: string; messageId: string; xml: string };
type Client = grpc.Client & {
  SubscribeEvents(
    req: { afterPosition: number; nouns: string[] },
    md: grpc.Metadata,
  ): grpc.ClientReadableStream<Streamed>;
};

const t0 = Date.UTC(2026, 2, 10);
const maxSubscriberBufferedBytes = 1024 * 1024;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// A full collection before each memory reading: what is measured is what is still referenced.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function arrayBufferBytes(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** 2,000 readings in messages of 500 (about 0.1 MB of XML each). */
function batchOf(seq: number): OutputBatch {
  const readings: CollectedReading[] = Array.from({ length: 2000 }, (_, i) => ({
    meterSerial: `M${seq}-${i % 50}`,
    usagePoint: `P${i % 50}`,
    kind: 'interval' as const,
    quantity: { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    value: seq * 10_000 + i,
    unit: 'Wh',
    timestampMs: t0 + 900_000 * (i % 96),
    intervalSeconds: 900,
  }));
  return { csv: {}, readings, events: [] };
}

async function serve(
  publisher: CimPublisher,
  more: { maxSubscribers?: number } = {},
): Promise<{ bridge: GrpcBridge; client: Client; scrape: () => Promise<Record<string, number>> }> {
  const run = setUpDay({ concentrators: 1, meters: 1, outageChance: 0, provision: false });
  const metrics = await startIntegrationMetrics('127.0.0.1:0');
  cleanups.push(() => metrics.close());
  const bridge = await startGrpcBridge(run.headend, publisher, {
    address: '127.0.0.1:0',
    clock: run.clock,
    source: 'slow-client-test',
    onDemandTimeoutMs: 2_000,
    controlTimeoutMs: 60_000,
    maxSubscriberBufferedBytes,
    metrics: metrics.registry,
    ...more,
  });
  cleanups.push(() => bridge.close());
  const client = new HeadendService(
    `127.0.0.1:${bridge.port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as Client;
  cleanups.push(() => client.close());
  /** meterfabric_subscribe_events_* from GET /metrics, by name without the prefix (`ended_total{code}`). */
  const scrape = async (): Promise<Record<string, number>> => {
    const text = await fetch(`http://${metrics.address}/metrics`).then((r) => r.text());
    const prefix = 'meterfabric_subscribe_events_';
    return Object.fromEntries(
      parsePrometheus(text)
        .filter((m) => m.name.startsWith(prefix))
        .map((m) => [
          `${m.name.slice(prefix.length)}${m.labels.code !== undefined ? `{${m.labels.code}}` : ''}`,
          m.value,
        ]),
    );
  };
  return { bridge, client, scrape };
}

/** Polls the metrics until `probe` holds (streams close a moment after their status is sent). */
async function scrapeUntil(
  scrape: () => Promise<Record<string, number>>,
  probe: (m: Record<string, number>) => boolean,
): Promise<Record<string, number>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = await scrape();
    if (probe(m) || Date.now() > deadline) return m;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A subscriber that (when `stall`) reads one message and then stops reading until `resume` is called. */
function subscribe(client: Client, afterPosition: number, stall: boolean) {
  const got: Streamed[] = [];
  let failure: grpc.ServiceError | undefined;
  const stream = client.SubscribeEvents({ afterPosition, nouns: [] }, new grpc.Metadata());
  cleanups.push(() => stream.cancel());
  stream.on('data', (m: Streamed) => {
    got.push(m);
    if (stall && got.length === 1) stream.pause();
  });
  stream.on('error', (err: grpc.ServiceError) => {
    failure = err;
  });
  return {
    got,
    failure: () => failure,
    resume: () => stream.resume(),
    cancel: () => stream.cancel(),
    /** Resolves once `count` messages have arrived or the stream failed (polled with a deadline). */
    async received(count: number): Promise<void> {
      const deadline = Date.now() + 60_000;
      while (got.length < count && failure === undefined) {
        if (Date.now() > deadline) throw new Error(`received ${got.length} of ${count} messages`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

const asWire = (m: PublishedEntry, bytes: Uint8Array) => ({
  position: m.position,
  noun: m.noun,
  messageId: m.messageId,
  xml: messageXml({ bytes }),
});
const fromWire = (m: Streamed) => ({
  position: Number(m.position),
  noun: m.noun,
  messageId: m.messageId,
  xml: m.xml,
});

describe('SubscribeEvents with a client that stops reading', () => {
  it('keeps at most maxSubscriberBufferedBytes for it, and catches it up from the files: every message once, in order, the files’ bytes; /metrics shows the stream, its buffered bytes and each fall-behind', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-grpc-slow-'));
    cleanups.push(() => rm(outDir, { recursive: true, force: true }));
    const publisher = await CimPublisher.open({
      outDir,
      source: 'slow-client-test',
      clock: new ManualClock(t0),
      maxReadingsPerMessage: 500,
    });
    const { bridge, client, scrape } = await serve(publisher);
    const entries: PublishedEntry[] = [...(await publisher.publish(batchOf(1), 1))];
    const subscriber = subscribe(client, 0, true);
    await subscriber.received(1);

    const before = arrayBufferBytes();
    let publishedBytes = 0;
    let peakSampled = 0;
    for (let seq = 2; seq <= 80; seq++) {
      for (const e of await publisher.publish(batchOf(seq), seq)) {
        entries.push(e);
        publishedBytes += e.byteLength;
      }
      peakSampled = Math.max(peakSampled, ...bridge.subscriberStats().map((s) => s.bufferedBytes));
    }
    const grown = arrayBufferBytes() - before;
    const [stats] = bridge.subscriberStats();
    // Over 30 MB published while the client read nothing.
    expect(publishedBytes).toBeGreaterThan(30 * maxSubscriberBufferedBytes);
    // The process holds the bound and what the transport took (flow-control windows, the
    // client's own buffer), not what was published: without the bound it grows by all of it.
    expect(grown).toBeLessThan(publishedBytes / 4);
    expect(stats?.peakBufferedBytes).toBeLessThanOrEqual(maxSubscriberBufferedBytes);
    expect(peakSampled).toBeLessThanOrEqual(maxSubscriberBufferedBytes);
    expect(stats?.fellBehind).toBeGreaterThanOrEqual(1);
    // What the metrics endpoint shows meanwhile: one stream, what it has waiting (the client
    // reads nothing, so that holds still), the bound, that it fell behind; none ended.
    const stalled = await scrape();
    expect(stalled).toEqual({
      streams: 1,
      largest_buffered_bytes: bridge.subscriberStats()[0]?.bufferedBytes,
      max_buffered_bytes: maxSubscriberBufferedBytes,
      fell_behind_total: stats?.fellBehind,
      'ended_total{MF_SUBSCRIBER_OVERFLOW}': 0,
      'ended_total{MF_CHECKPOINT_EXPIRED}': 0,
      'ended_total{MF_TOO_MANY_SUBSCRIBERS}': 0,
      'ended_total{other}': 0,
    });
    expect(stalled.largest_buffered_bytes).toBeGreaterThan(0);

    subscriber.resume();
    await subscriber.received(entries.length);
    // A little longer: nothing more (no message twice) arrives.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(subscriber.got).toHaveLength(entries.length);
    const expected = await Promise.all(entries.map(async (e) => asWire(e, await publisher.bytesOf(e))));
    expect(subscriber.got.map(fromWire)).toEqual(expected);
    // And it is live again: the next batch arrives without resubscribing.
    const next = await publisher.publish(batchOf(81), 81);
    await subscriber.received(entries.length + next.length);
    expect(subscriber.got.slice(entries.length).map((m) => Number(m.position))).toEqual(
      next.map((e) => e.position),
    );
    // Falling behind again while catching up (chunks from the files pass the bound) counts too.
    const caughtUp = await scrape();
    expect(caughtUp.fell_behind_total).toBe(bridge.subscriberStats()[0]?.fellBehind);
    expect(caughtUp.streams).toBe(1);
  });

  it('a client that reads slowly while batches are published falls behind and rejoins live, and gets every message once, in order', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-grpc-slow-'));
    cleanups.push(() => rm(outDir, { recursive: true, force: true }));
    const publisher = await CimPublisher.open({
      outDir,
      source: 'slow-client-test',
      clock: new ManualClock(t0),
      maxReadingsPerMessage: 500,
    });
    const { bridge, client, scrape } = await serve(publisher);
    const got: Streamed[] = [];
    const stream = client.SubscribeEvents({ afterPosition: 0, nouns: [] }, new grpc.Metadata());
    cleanups.push(() => stream.cancel());
    let failure: grpc.ServiceError | undefined;
    stream.on('error', (err: grpc.ServiceError) => {
      failure = err;
    });
    // Reads 4 messages, then nothing for 50 ms, and so on: slower than they are published.
    stream.on('data', (m: Streamed) => {
      got.push(m);
      if (got.length % 4 === 0) {
        stream.pause();
        setTimeout(() => stream.resume(), 50);
      }
    });
    const entries: PublishedEntry[] = [];
    let peak = 0;
    for (let seq = 1; seq <= 60; seq++) {
      entries.push(...(await publisher.publish(batchOf(seq), seq)));
      peak = Math.max(peak, ...bridge.subscriberStats().map((s) => s.bufferedBytes));
      // Some batches while the subscriber catches up, some while it is live.
      if (seq % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const deadline = Date.now() + 60_000;
    while (got.length < entries.length && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [stats] = bridge.subscriberStats();
    expect(peak).toBeLessThanOrEqual(maxSubscriberBufferedBytes);
    expect(stats?.peakBufferedBytes).toBeLessThanOrEqual(maxSubscriberBufferedBytes);
    expect(stats?.fellBehind).toBeGreaterThanOrEqual(1);
    expect(failure).toBeUndefined();
    const metrics = await scrape();
    expect(metrics.fell_behind_total).toBe(stats?.fellBehind);
    expect(metrics['ended_total{MF_SUBSCRIBER_OVERFLOW}']).toBe(0);
    expect(got.map((m) => Number(m.position))).toEqual(entries.map((e) => e.position));
    const expected = await Promise.all(entries.map(async (e) => asWire(e, await publisher.bytesOf(e))));
    expect(got.map(fromWire)).toEqual(expected);
  });

  it('a stalled client whose position has left the window meanwhile gets OUT_OF_RANGE with the position to resume from, counted as ended with MF_CHECKPOINT_EXPIRED', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-grpc-slow-'));
    cleanups.push(() => rm(outDir, { recursive: true, force: true }));
    const publisher = await CimPublisher.open({
      outDir,
      source: 'slow-client-test',
      clock: new ManualClock(t0),
      maxReadingsPerMessage: 500,
      maxRetainedMessages: 40,
    });
    const { client, scrape } = await serve(publisher);
    const entries: PublishedEntry[] = [...(await publisher.publish(batchOf(1), 1))];
    const subscriber = subscribe(client, 0, true);
    await subscriber.received(1);
    for (let seq = 2; seq <= 40; seq++) entries.push(...(await publisher.publish(batchOf(seq), seq)));
    subscriber.resume();
    await subscriber.received(entries.length);
    const err = subscriber.failure();
    expect(err?.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(err?.metadata.get('mf-code')).toEqual(['MF_CHECKPOINT_EXPIRED']);
    const ended = await scrapeUntil(scrape, (m) => m.streams === 0);
    expect(ended).toMatchObject({
      streams: 0,
      largest_buffered_bytes: 0,
      'ended_total{MF_CHECKPOINT_EXPIRED}': 1,
      'ended_total{MF_SUBSCRIBER_OVERFLOW}': 0,
    });
    expect(ended.fell_behind_total).toBeGreaterThanOrEqual(1);
    // What it got before is a prefix, in order; the window still serves from mf-resume-from.
    const expected = await Promise.all(entries.map(async (e) => asWire(e, await publisher.bytesOf(e))));
    expect(subscriber.got.map(fromWire)).toEqual(expected.slice(0, subscriber.got.length));
    const resumeFrom = Number(err?.metadata.get('mf-resume-from')[0]);
    expect(resumeFrom).toBeGreaterThan(Number(subscriber.got.at(-1)?.position));
    const again = subscribe(client, resumeFrom, false);
    const rest = expected.filter((e) => e.position > resumeFrom);
    await again.received(rest.length);
    expect(again.got.map(fromWire)).toEqual(rest);
  });

  it('without an out dir (no files to catch up from) ends the stream with RESOURCE_EXHAUSTED and the position to resume from, each end counted as MF_SUBSCRIBER_OVERFLOW', async () => {
    const publisher = new CimPublisher({
      source: 'slow-client-test',
      clock: new ManualClock(t0),
      maxReadingsPerMessage: 500,
    });
    const { bridge, client, scrape } = await serve(publisher);
    const entries: PublishedEntry[] = [...(await publisher.publish(batchOf(1), 1))];
    const subscriber = subscribe(client, 0, true);
    await subscriber.received(1);
    for (let seq = 2; seq <= 40; seq++) entries.push(...(await publisher.publish(batchOf(seq), seq)));
    expect(bridge.subscriberStats()[0]?.peakBufferedBytes).toBeLessThanOrEqual(maxSubscriberBufferedBytes);

    subscriber.resume();
    await subscriber.received(entries.length);
    const err = subscriber.failure();
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err?.details).toMatch(/^MF_SUBSCRIBER_OVERFLOW: .*resubscribe from \d+/);
    expect(err?.metadata.get('mf-code')).toEqual(['MF_SUBSCRIBER_OVERFLOW']);
    // Everything up to the position to resume from arrived, in order: nothing dropped silently.
    const resumeFrom = Number(err?.metadata.get('mf-resume-from')[0]);
    const sent = entries.filter((e) => e.position <= resumeFrom);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThan(entries.length);
    const expected = await Promise.all(entries.map(async (e) => asWire(e, await publisher.bytesOf(e))));
    expect(subscriber.got.map(fromWire)).toEqual(expected.slice(0, sent.length));

    // Resubscribing from there gets the rest. Without files the backlog is written at once
    // (the window holds it), so one longer than the bound ends again, further on: a client
    // that resubscribes from each mf-resume-from gets every message once, in order.
    const rest: Streamed[] = [];
    let from = resumeFrom;
    let overflows = 1;
    for (let attempt = 0; rest.length < entries.length - sent.length && attempt < 50; attempt++) {
      const again = subscribe(client, from, false);
      await again.received(entries.length - sent.length - rest.length);
      rest.push(...again.got);
      const ended = again.failure();
      if (ended === undefined) break;
      expect(ended.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      overflows++;
      from = Number(ended.metadata.get('mf-resume-from')[0]);
      expect(from).toBe(Number(rest.at(-1)?.position));
    }
    expect(rest.map(fromWire)).toEqual(expected.slice(sent.length));
    // Each end counted once, as an overflow; without files nothing counts as falling behind.
    const metrics = await scrapeUntil(scrape, (m) => (m.streams ?? 0) <= 1);
    expect(metrics).toMatchObject({
      'ended_total{MF_SUBSCRIBER_OVERFLOW}': overflows,
      'ended_total{MF_CHECKPOINT_EXPIRED}': 0,
      fell_behind_total: 0,
    });
    expect(metrics.streams).toBeLessThanOrEqual(1);
  });

  it('refuses a stream beyond maxSubscribers with RESOURCE_EXHAUSTED (MF_TOO_MANY_SUBSCRIBERS), counted, and serves one again once a stream closes', async () => {
    const publisher = new CimPublisher({
      source: 'slow-client-test',
      clock: new ManualClock(t0),
      maxReadingsPerMessage: 500,
    });
    const { bridge, client, scrape } = await serve(publisher, { maxSubscribers: 2 });
    const entries = await publisher.publish(batchOf(1), 1);
    const first = subscribe(client, 0, false);
    const second = subscribe(client, 0, false);
    await first.received(entries.length);
    await second.received(entries.length);
    expect(bridge.subscriberStats()).toHaveLength(2);

    const third = subscribe(client, 0, false);
    const deadline = Date.now() + 10_000;
    while (third.failure() === undefined && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const err = third.failure();
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err?.details).toMatch(
      /^MF_TOO_MANY_SUBSCRIBERS: this bridge already serves 2 SubscribeEvents streams/,
    );
    expect(err?.metadata.get('mf-resume-from')).toEqual(['0']);
    expect(third.got).toHaveLength(0);
    const refused = await scrapeUntil(scrape, (m) => m['ended_total{MF_TOO_MANY_SUBSCRIBERS}'] === 1);
    expect(refused['ended_total{MF_TOO_MANY_SUBSCRIBERS}']).toBe(1);
    expect(refused.streams).toBe(2);

    // A stream that closes makes room: the next one is served from its position.
    first.cancel();
    const reopened = await scrapeUntil(scrape, (m) => m.streams === 1);
    expect(reopened.streams).toBe(1);
    const fourth = subscribe(client, 0, false);
    await fourth.received(entries.length);
    expect(fourth.failure()).toBeUndefined();
    expect(fourth.got.map(fromWire).map((m) => m.position)).toEqual(entries.map((e) => e.position));
  });
});
