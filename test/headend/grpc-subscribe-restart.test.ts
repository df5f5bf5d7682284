import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type GrpcBridge,
  HeadendService,
  startGrpcBridge,
} from '../../actors/integration/bridge/grpc-bridge.js';
import { CimPublisher, messageXml, type PublishedMessage } from '../../actors/integration/cim-publisher.js';
import { ManualClock } from '../../core/clock.js';
import { setUpDay } from './day-fixture.js';
import { eventBatch, readingBatch } from './webhook-receiver.js';

/**
 * gRPC SubscribeEvents across an integration restart: the new process's publisher rebuilds its
 * window from the CIM files, so a subscriber that lagged resumes with exactly the rest.
 */

type Streamed = {
  position: string | number;
  noun: string;
  messageId: string;
  correlationId: string;
  xml: string;
};
type Client = grpc.Client & {
  SubscribeEvents(
    req: { afterPosition: number; nouns: string[] },
    md: grpc.Metadata,
  ): grpc.ClientReadableStream<Streamed>;
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(publisher: CimPublisher): Promise<Client> {
  const run = setUpDay({ concentrators: 1, meters: 1, outageChance: 0, provision: false });
  const bridge: GrpcBridge = await startGrpcBridge(run.headend, publisher, {
    address: '127.0.0.1:0',
    clock: run.clock,
    source: 'restart-test',
    onDemandTimeoutMs: 2_000,
    controlTimeoutMs: 60_000,
  });
  cleanups.push(() => bridge.close());
  const client = new HeadendService(
    `127.0.0.1:${bridge.port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as Client;
  cleanups.push(() => client.close());
  return client;
}

function collect(client: Client, after: number, count: number): Promise<Streamed[]> {
  return new Promise((resolve, reject) => {
    const got: Streamed[] = [];
    const stream = client.SubscribeEvents({ afterPosition: after, nouns: [] }, new grpc.Metadata());
    stream.on('data', (m: Streamed) => {
      got.push(m);
      if (got.length === count) {
        stream.cancel();
        resolve(got);
      }
    });
    stream.on('error', (err: grpc.ServiceError) =>
      err.code === grpc.status.CANCELLED ? undefined : reject(err),
    );
  });
}

const wire = (m: PublishedMessage) => ({
  position: String(m.position),
  noun: m.noun,
  messageId: m.messageId,
  correlationId: m.correlationId ?? '',
  xml: messageXml(m),
});

describe('SubscribeEvents after an integration restart', () => {
  it('a lagging subscriber resumes inside the rebuilt window with exactly the rest; older gets OUT_OF_RANGE', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-grpc-restart-'));
    cleanups.push(() => rm(outDir, { recursive: true, force: true }));
    const options = { outDir, source: 'restart-test', clock: new ManualClock(Date.UTC(2026, 2, 10)) };
    const first = new CimPublisher(options);
    await first.restoreFromDisk();
    const all: PublishedMessage[] = [];
    for (let seq = 1; seq <= 6; seq++)
      for (const m of await first.publish(
        seq % 2 ? readingBatch(`M${seq}`) : eventBatch(`M${seq}`, `corr-${seq}`),
        seq,
      ))
        all.push({ ...m, bytes: await first.bytesOf(m) });

    // The restart: a new process, a new publisher over the same folder, a new bridge.
    const second = new CimPublisher({ ...options, maxRetainedMessages: 4 });
    await second.restoreFromDisk();
    const client = await serve(second);
    const resumed = await collect(client, (all[2] as PublishedMessage).position, 3);
    expect(resumed.map((m) => ({ ...m, position: String(m.position) }))).toEqual(all.slice(3).map(wire));

    const expired = await new Promise<grpc.ServiceError>((resolve) => {
      const stream = client.SubscribeEvents(
        { afterPosition: (all[0] as PublishedMessage).position, nouns: [] },
        new grpc.Metadata(),
      );
      stream.on('data', () => undefined);
      stream.on('error', (err: grpc.ServiceError) => resolve(err));
    });
    expect(expired.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(expired.details).toMatch(/MF_CHECKPOINT_EXPIRED|resubscribe from/);
  });
});
