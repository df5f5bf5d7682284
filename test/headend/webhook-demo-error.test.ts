import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { runDemoDay } from '../../actors/demo/run-day.js';
import { freePort } from '../support/ports.js';
import { startReceiver } from './webhook-receiver.js';

/**
 * The demo's error path closes what the day opened: here the gRPC port is taken, so the day
 * fails after the webhook dispatcher and the HTTP bridge started. Both must be closed: the
 * HTTP port refuses connections and the webhook store's LevelDB lock is released.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

describe('demo day error path', () => {
  it('a day that fails after starting the webhook dispatcher and the HTTP bridge closes both', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'mf-demo-error-'));
    cleanups.push(() => rm(outDir, { recursive: true, force: true }));
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const grpcPort = (taken.address() as { port: number }).port;
    const httpPort = await freePort();

    const failure = await runDemoDay({
      outDir,
      concentrators: 1,
      metersPerConcentrator: 1,
      knxSites: 0,
      batterySites: 0,
      speed: 1440,
      progress: () => undefined,
      webhooks: [{ name: 'hook', url: receiver.url }],
      bridges: { host: '127.0.0.1', httpPort, grpcPort },
    }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Error);
    expect(String(failure)).toMatch(/No address added|EADDRINUSE|bind/i);

    expect(await connects(httpPort)).toBe(false);
    const store = new ClassicLevel(join(outDir, '.webhook-state'));
    await store.open(); // throws if the dispatcher still held the lock
    await store.close();
  }, 120_000);
});
