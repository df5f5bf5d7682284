import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CollectorOptions, ModemCollector } from '../../adapters/modem/collector/collector.js';
import type { CollectorEvents } from '../../adapters/modem/collector/events.js';
import { LevelModemStore } from '../../adapters/modem/registry/level-store.js';
import type { PortRange } from '../../adapters/modem/registry/types.js';
import { consecutiveFreePorts } from '../support/ports.js';

/** A contiguous range of `count` ports that were all free on `host` a moment ago. */
export async function freePortRange(count: number, host = '127.0.0.1'): Promise<PortRange> {
  const first = await consecutiveFreePorts(count, host);
  return { first, last: first + count - 1 };
}

export function tempDir(prefix = 'mf-modem-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export type TestCollector = { collector: ModemCollector; store: LevelModemStore; stop(): Promise<void> };

export async function startCollector(
  dataDir: string,
  config: CollectorOptions['config'],
  extra: Omit<CollectorOptions, 'config' | 'store'> = {},
): Promise<TestCollector> {
  const store = await LevelModemStore.open(dataDir);
  const collector = new ModemCollector({ config, store, ...extra });
  await collector.start();
  return {
    collector,
    store,
    async stop() {
      await collector.stop();
      await store.close();
    },
  };
}

/**
 * A collector (node n1) whose modem listener binds a loopback port of its own (port 0, read
 * back as `collector.modemPort`: no other process can take a port chosen beforehand) with `bridgePorts`
 * consecutive bridge ports; `config` adds to or overrides that.
 */
export async function startLoopbackCollector(
  dataDir: string,
  bridgePorts: number,
  config: Partial<CollectorOptions['config']> = {},
  extra: Omit<CollectorOptions, 'config' | 'store'> = {},
): Promise<TestCollector> {
  return startCollector(
    dataDir,
    {
      nodeId: 'n1',
      modemListen: { host: '127.0.0.1', port: 0 },
      portRange: await freePortRange(bridgePorts),
      ...config,
    },
    extra,
  );
}

/** Starts `modem` and resolves with the collector's modem-online event for its IMEI. */
export async function dialIn(
  collector: ModemCollector,
  modem: { imei: string; start(): void },
): Promise<CollectorEvents['modem-online'][0]> {
  const online = nextEvent(collector, 'modem-online', (e) => e.imei === modem.imei);
  modem.start();
  return online;
}

/** Resolves with the first event of `name` that satisfies `match`. */
export function nextEvent<K extends keyof CollectorEvents>(
  collector: ModemCollector,
  name: K,
  match: (e: CollectorEvents[K][0]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<CollectorEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      collector.off(name, listener as never);
      reject(new Error(`timed out waiting for ${String(name)}`));
    }, timeoutMs);
    const listener = (e: CollectorEvents[K][0]) => {
      if (!match(e)) return;
      clearTimeout(timer);
      collector.off(name, listener as never);
      resolve(e);
    };
    collector.on(name, listener as never);
  });
}

export function dial(port: number, host = '127.0.0.1', localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the peer sends until it closes (bounded by `timeoutMs`). */
export function readUntilClose(socket: Socket, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => reject(new Error(`socket still open after ${timeoutMs} ms: "${text}"`)),
      timeoutMs,
    );
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}
