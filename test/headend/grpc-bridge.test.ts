import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type GrpcBridge,
  HeadendService,
  startGrpcBridge,
} from '../../actors/integration/bridge/grpc-bridge.js';
import { CimPublisher } from '../../actors/integration/cim-publisher.js';
import { buildOutputBatch } from '../../actors/integration/output-batch.js';
import { soapMeterConfig, usagePointConfig } from './cim-requests.js';
import { hourMs, originMs, runUntil, setUpDay } from './day-fixture.js';

const token = 'grpc-token';
let bridge: GrpcBridge | undefined;
const clients: grpc.Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await bridge?.close();
  bridge = undefined;
});

type Unary = (
  req: { xml: string },
  md: grpc.Metadata,
  cb: (
    err: grpc.ServiceError | null,
    res?: { result: string; errors: { code: string }[]; xml: string },
  ) => void,
) => void;

async function start() {
  const run = setUpDay({ concentrators: 1, meters: 2, outageChance: 0, provision: false });
  const publisher = new CimPublisher({ source: 'grpc-test', clock: run.clock });
  let seq = 0;
  run.forward = async (batch) => {
    await publisher.publish(
      buildOutputBatch(batch, () => undefined),
      seq++,
    );
  };
  for (const command of run.fleet.provisioning())
    if (command.type === 'upsertConcentrator') run.headend.applyRegistry(command);
  // Port 0: the bridge binds a port the OS picks (a port picked in advance can be taken by a
  // parallel suite before the bridge binds it).
  bridge = await startGrpcBridge(run.headend, publisher, {
    address: '127.0.0.1:0',
    token,
    clock: run.clock,
    source: 'grpc-test',
    onDemandTimeoutMs: 2_000,
    controlTimeoutMs: 60_000,
  });
  const port = bridge.port;
  const client = new HeadendService(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client &
    Record<string, Unary> & {
      SubscribeEvents(
        req: { afterPosition: number; nouns: string[] },
        md: grpc.Metadata,
      ): grpc.ClientReadableStream<{ position: number; noun: string; xml: string }>;
    };
  clients.push(client);
  const md = (t: string | null = token) => {
    const m = new grpc.Metadata();
    if (t) m.set('authorization', `Bearer ${t}`);
    return m;
  };
  const call = (method: string, xml: string, t: string | null = token) =>
    new Promise<{
      err: grpc.ServiceError | null;
      res?: { result: string; errors: { code: string }[]; xml: string };
    }>((resolve) => client[method]!({ xml }, md(t), (err, res) => resolve({ err, res })));
  return { run, publisher, client, call, md, port };
}

describe('head-end gRPC API', () => {
  it('runs MeterConfig, refuses a request of another noun and an unauthenticated caller without changing anything', async () => {
    const { run, call } = await start();
    const ok = await call(
      'MeterConfig',
      soapMeterConfig([{ serial: 'M-G1', concentrator: 'TD-100000', commissioned: true }]),
    );
    expect(ok.res?.result).toBe('OK');
    expect(run.headend.registry.meters['M-G1']?.state).toBe('commissioned');
    const before = structuredClone(run.headend.registry);
    const wrongNoun = await call('MeterConfig', usagePointConfig(['P-1']));
    expect(wrongNoun.res).toMatchObject({ result: 'FAILED', errors: [{ code: 'MF_CIM_NOUN' }] });
    const anonymous = await call('UsagePointLocationConfig', usagePointConfig(['P-2']), null);
    expect(anonymous.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    const bad = await call('UsagePointLocationConfig', '<nope');
    expect(bad.res).toMatchObject({ result: 'FAILED', errors: [{ code: 'MF_XML_MALFORMED' }] });
    expect(run.headend.registry).toEqual(before);
  });

  it('streams published CIM messages and resumes after a checkpoint', async () => {
    const { run, client, md } = await start();
    for (const command of run.fleet.provisioning())
      if (command.type !== 'upsertConcentrator') run.headend.applyRegistry(command);
    await runUntil(run, originMs + 4 * hourMs, 30 * 60_000);
    const collect = (after: number, count: number) =>
      new Promise<{ position: number; noun: string }[]>((resolve, reject) => {
        const got: { position: number; noun: string }[] = [];
        const stream = client.SubscribeEvents({ afterPosition: after, nouns: [] }, md());
        stream.on('data', (m: { position: number; noun: string }) => {
          got.push({ position: m.position, noun: m.noun });
          if (got.length === count) {
            stream.cancel();
            resolve(got);
          }
        });
        stream.on('error', (err: grpc.ServiceError) =>
          err.code === grpc.status.CANCELLED ? undefined : reject(err),
        );
      });
    const first = await collect(0, 4);
    const positions = first.map((m) => m.position);
    // Positions are global (seq * 2^20 + index + 1): sparse, strictly increasing.
    for (let i = 1; i < positions.length; i++)
      expect(positions[i]).toBeGreaterThan(positions[i - 1] as number);
    const resumed = await collect(positions[1] as number, 2);
    expect(resumed.map((m) => m.position)).toEqual(positions.slice(2));
  });

  it('ends a refused subscription with its status: UNAUTHENTICATED without the token, OUT_OF_RANGE for an expired checkpoint', async () => {
    const { run, client, md } = await start();
    const endOf = (after: number, metadata: grpc.Metadata) =>
      new Promise<grpc.ServiceError>((resolve) => {
        const stream = client.SubscribeEvents({ afterPosition: after, nouns: [] }, metadata);
        stream.on('data', () => undefined);
        stream.on('error', (err: grpc.ServiceError) => resolve(err));
      });
    expect((await endOf(0, md(null))).code).toBe(grpc.status.UNAUTHENTICATED);
    // More messages than the publisher retains, then a checkpoint older than the oldest kept.
    const small = new CimPublisher({ source: 'grpc-test', clock: run.clock, maxRetainedMessages: 1 });
    for (let seq = 0; seq < 3; seq++)
      await small.publish(
        {
          csv: {},
          readings: [],
          events: [
            {
              deviceId: 'M',
              deviceKind: 'meter',
              key: 'meter.relayOpened',
              phase: 'occurred',
              timestampMs: originMs,
            },
          ],
        },
        seq,
      );
    expect(() => small.subscribe(0, () => undefined)).toThrow(/MF_CHECKPOINT_EXPIRED|older than/);
    const expiredBridge = await startGrpcBridge(run.headend, small, {
      address: '127.0.0.1:0',
      clock: run.clock,
      source: 'grpc-test',
      onDemandTimeoutMs: 2_000,
      controlTimeoutMs: 60_000,
    });
    try {
      const other = new HeadendService(
        `127.0.0.1:${expiredBridge.port}`,
        grpc.credentials.createInsecure(),
      ) as unknown as typeof client;
      clients.push(other);
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        const stream = other.SubscribeEvents({ afterPosition: 0, nouns: [] }, new grpc.Metadata());
        stream.on('data', () => undefined);
        stream.on('error', (e: grpc.ServiceError) => resolve(e));
      });
      expect(err.code).toBe(grpc.status.OUT_OF_RANGE);
      expect(err.details).toMatch(/^MF_CHECKPOINT_EXPIRED: /);
    } finally {
      await expiredBridge.close();
    }
  });

  it('offers server reflection listing the Headend service', async () => {
    const { port } = await start();
    const reflectionRoot = join(
      dirname(createRequire(import.meta.url).resolve('@grpc/reflection')),
      '..',
      'proto',
    );
    const def = protoLoader.loadSync(join(reflectionRoot, 'grpc/reflection/v1alpha/reflection.proto'), {
      includeDirs: [reflectionRoot],
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1alpha: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    const client = new pkg.grpc.reflection.v1alpha.ServerReflection(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    ) as unknown as grpc.Client & {
      ServerReflectionInfo(): grpc.ClientDuplexStream<
        object,
        { listServicesResponse?: { service: { name: string }[] } }
      >;
    };
    clients.push(client);
    const names = await new Promise<string[]>((resolve, reject) => {
      const stream = client.ServerReflectionInfo();
      stream.on('data', (r) => {
        resolve((r.listServicesResponse?.service ?? []).map((s: { name: string }) => s.name));
        stream.end();
      });
      stream.on('error', reject);
      stream.write({ listServices: '*' });
    });
    expect(names).toContain('meterfabric.headend.v1.Headend');
  });
});
