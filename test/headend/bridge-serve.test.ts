import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadendService } from '../../actors/integration/bridge/grpc-bridge.js';
import { serveIntegration } from '../../actors/integration/bridge/serve.js';
import { CimPublisher } from '../../actors/integration/cim-publisher.js';
import { verifyWebhook } from '../../actors/integration/webhook-signature.js';
import { makePki, type TestPki } from '../support/tls.js';
import { waitFor } from '../support/wait.js';
import { usagePointConfig } from './cim-requests.js';
import { setUpDay } from './day-fixture.js';
import { readingBatch, startReceiver } from './webhook-receiver.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await makePki(['integrator-a']);
}, 60_000);
afterAll(async () => {
  await pki?.remove();
});

describe('serveIntegration', () => {
  it('serves HTTPS and gRPC behind mTLS + token and pushes published messages to the webhook', async () => {
    const run = setUpDay({ concentrators: 1, meters: 1, outageChance: 0, provision: false });
    const publisher = new CimPublisher({ source: 'serve-test', clock: run.clock });
    const receiver = await startReceiver();
    const stateDir = await mkdtemp(join(tmpdir(), 'mf-serve-'));
    const secret = 'serve-test-secret-0123';
    const client = pki.clients['integrator-a']!;
    const served = await serveIntegration(run.headend, publisher, {
      host: '127.0.0.1',
      httpPort: 0,
      grpcPort: 0,
      token: 'serve-token',
      tls: {
        certPem: pki.server.certPem,
        keyPem: pki.server.keyPem,
        clientCaPem: pki.caPem,
        allowedClientNames: ['integrator-a'],
      },
      webhooks: { subscribers: [{ name: 'hook', url: receiver.url, secret }], stateDir },
      clock: run.clock,
      source: 'serve-test',
      onDemandTimeoutMs: 2_000,
      controlTimeoutMs: 60_000,
    });
    const stub = new HeadendService(
      `127.0.0.1:${served.grpc.port}`,
      grpc.credentials.createSsl(
        Buffer.from(pki.caPem),
        Buffer.from(client.keyPem),
        Buffer.from(client.certPem),
      ),
    ) as unknown as grpc.Client & {
      SubscribeEvents(
        req: { afterPosition: number; nouns: string[] },
        md: grpc.Metadata,
      ): grpc.ClientReadableStream<{
        messageId: string;
      }>;
    };
    try {
      expect(served.describe()).toMatch(
        /^CIM bridge https:\/\/127\.0\.0\.1:\d+\/cim, gRPC 127\.0\.0\.1:\d+ \(TLS, with reflection\); callers: mTLS \+ bearer token; webhooks: hook$/,
      );
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          served.http.url,
          {
            method: 'POST',
            ca: pki.caPem,
            cert: client.certPem,
            key: client.keyPem,
            agent: false,
            headers: { authorization: 'Bearer serve-token', 'content-type': 'text/xml' },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(usagePointConfig(['POD-S']));
      });
      expect(status).toBe(200);
      expect(run.headend.registry.usagePoints['POD-S']).toBeDefined();

      const md = new grpc.Metadata();
      md.set('authorization', 'Bearer serve-token');
      const stream = stub.SubscribeEvents({ afterPosition: 0, nouns: [] }, md);
      const streamed = new Promise<string>((resolve, reject) => {
        stream.on('data', (m: { messageId: string }) => resolve(m.messageId));
        stream.on('error', (err: grpc.ServiceError) =>
          err.code === grpc.status.CANCELLED ? undefined : reject(err),
        );
      });
      const [message] = await publisher.publish(readingBatch('M-S'), 0);
      expect(await streamed).toBe(message?.messageId);
      stream.cancel();
      await waitFor(() => served.webhook?.status()[0]?.delivered === 1, 'webhook delivery');
      const [hook] = receiver.received;
      expect(hook?.headers['idempotency-key']).toBe(message?.messageId);
      expect(
        verifyWebhook({ secret, body: hook?.body ?? '', headers: hook?.headers ?? {}, nowMs: Date.now() }).ok,
      ).toBe(true);
    } finally {
      stub.close();
      await served.close();
      await receiver.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
