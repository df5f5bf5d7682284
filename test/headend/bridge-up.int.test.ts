import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../actors/integration/webhook-signature.js';
import { consecutiveFreePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { expectSubscriberCap } from './support/subscriber-cap.js';
import { startUp } from './support/up-process.js';
import { startReceiver } from './webhook-receiver.js';

/**
 * `meterfabric up` as the integration host: the bridge behind a token read from a file, a
 * webhook subscriber from a config file (secret from a file), and the webhook metrics on the
 * process's metrics endpoint, during a real day on etcd + three nodes; the gRPC API with
 * --max-subscriber-buffered-mib, its bound on the same endpoint, and --max-subscribers 1: a
 * second SubscribeEvents stream is refused. Needs dist/.
 */

describe('meterfabric up with the integration flags', () => {
  it('serves the bridge with the file token, delivers signed webhooks and exposes their metrics', {
    timeout: 420_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-integration-'));
    const tokenFile = join(dir, 'bridge.token');
    writeFileSync(tokenFile, 'up-bridge-token-0123\n');
    chmodSync(tokenFile, 0o600);
    const secret = 'up-webhook-secret-0123';
    writeFileSync(join(dir, 'hook.secret'), `${secret}\n`);
    chmodSync(join(dir, 'hook.secret'), 0o600);
    const receiver = await startReceiver();
    writeFileSync(
      join(dir, 'hooks.json'),
      JSON.stringify([{ name: 'rx', url: receiver.url, secretFile: 'hook.secret' }]),
    );
    // Below the OS's port-0 range, so no other process is handed them before `up` binds them.
    const httpPort = await consecutiveFreePorts(3);
    const metricsPort = httpPort + 1;
    const grpcPort = httpPort + 2;
    const up = await startUp(
      dir,
      [
        '--http-port',
        String(httpPort),
        '--token-file',
        tokenFile,
        '--webhook-config',
        join(dir, 'hooks.json'),
        '--metrics',
        `127.0.0.1:${metricsPort}`,
        '--grpc-port',
        String(grpcPort),
        '--max-subscriber-buffered-mib',
        '8',
        '--max-subscribers',
        '1',
        // The day at twice the default pace (about 30 s): what is checked here is the hosting
        // flags, and `up` reading --speed; npm-start.int runs the day at the default pace.
        '--speed',
        '2880',
      ],
      {
        MF_BRIDGE_TOKEN: 'not-this-one',
        MF_DEMO_OUT: join(dir, 'out'),
        MF_DEMO_CONCENTRATORS: '2',
        MF_DEMO_METERS: '2',
      },
    );
    const out = up.output;
    try {
      await waitFor(
        () => out().includes(`CIM bridge http://127.0.0.1:${httpPort}/cim`),
        'the bridge',
        300_000,
        200,
      );
      const post = (token?: string) =>
        fetch(`http://127.0.0.1:${httpPort}/cim`, {
          method: 'POST',
          headers: { 'content-type': 'text/xml', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: '<not-cim/>',
        }).then((r) => r.status);
      expect(await post()).toBe(401);
      // The file wins over MF_BRIDGE_TOKEN (the command line over the environment).
      expect(await post('not-this-one')).toBe(401);
      // Authenticated: past the token check to the request parser (which refuses this body).
      expect(await post('up-bridge-token-0123')).not.toBe(401);
      // --max-subscribers reached the gRPC API (early in the day: the bridges close at its end).
      await expectSubscriberCap({
        grpcAddress: `127.0.0.1:${grpcPort}`,
        metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        cap: 1,
        token: 'up-bridge-token-0123',
      });

      await waitFor(() => receiver.received.length > 0, 'a webhook delivery', 300_000, 200);
      const first = receiver.received[0]!;
      expect(
        verifyWebhook({
          secret,
          body: first.body,
          headers: first.headers,
          nowMs: Date.now(),
        }),
      ).toMatchObject({ ok: true });
      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
      const delivered = /^meterfabric_webhook_delivered_total\{subscriber="rx"\} (\d+)$/m.exec(metrics);
      expect(Number(delivered?.[1])).toBeGreaterThan(0);
      expect(metrics).toMatch(/^meterfabric_webhook_last_success_age_seconds\{subscriber="rx"\} [\d.e-]+$/m);
      expect(metrics).toMatch(/^meterfabric_webhook_queued_messages\{subscriber="rx"\} \d+$/m);
      // The flag reached the gRPC bridge, whose stream metrics are on the same endpoint.
      expect(metrics).toMatch(/^meterfabric_subscribe_events_max_buffered_bytes 8388608$/m);
      expect(metrics).toMatch(/^meterfabric_subscribe_events_streams 0$/m);
      expect(metrics).toMatch(
        /^meterfabric_subscribe_events_ended_total\{code="MF_SUBSCRIBER_OVERFLOW"\} 0$/m,
      );
      expect(out()).not.toMatch(/visible in ps/);

      await waitFor(
        () => out().includes('demo finished') || out().includes('demo failed'),
        'the day',
        300_000,
        500,
      );
      expect(out()).not.toContain('demo failed');
      expect(out()).toMatch(/webhook rx: delivered \d+/);
      up.child.kill('SIGINT');
      expect(await up.exited).toBe(0);
      for (const pid of up.pids()) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      up.killAll();
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
