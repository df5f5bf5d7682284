/**
 * Modem collector benchmarks:
 *  1. modems held by one collector node, connection setup rate and RSS per connected modem,
 *     against a raw TCP server that holds the same connections (baseline, same run);
 *  2. bridge throughput and added latency per round trip, against a direct TCP connection.
 * The collector runs in a child process so its RSS is its own; the driver dials from several
 * loopback source addresses. MF_BENCH_MODEMS sets the modem count (default 9,000: a process may
 * hold at most 20,000 fds here and each modem costs the collector a socket plus a bridge listener).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModemCollector } from '../adapters/modem/collector/collector.js';
import { LevelModemStore } from '../adapters/modem/registry/level-store.js';
import { fleetImei } from '../adapters/modem/simulator/fleet.js';
import { percentile, printFigure, printRatios } from './support/report.js';

type ChildMessage =
  | { type: 'ready'; port: number; rssBytes: number; bridgeFirst?: number }
  | { type: 'count'; count: number; rssBytes: number };

const self = fileURLToPath(import.meta.url);
const sourceAddresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const bridgeHost = '127.0.0.200';

function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

// ---------- child side ----------
async function childBaseline(): Promise<void> {
  let lines = 0;
  const held: Socket[] = [];
  const server = createServer((s) => {
    held.push(s);
    let seen = false;
    s.on('data', (c: Buffer) => {
      if (!seen && c.includes(0x0a)) {
        seen = true;
        lines++;
      }
    });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    process.send!({ type: 'ready', port: typeof a === 'object' && a ? a.port : 0, rssBytes: rss() });
  });
  process.on('message', () => process.send!({ type: 'count', count: lines, rssBytes: rss() }));
}

async function childCollector(count: number, first: number, dir: string): Promise<void> {
  const store = await LevelModemStore.open(dir);
  const range = { first, last: first + count + 100 };
  // Pre-registered like iRZ's "add modems from an Excel file": one import batch.
  await store.importModems(
    Array.from({ length: count + 1 }, (_, i) => ({ imei: fleetImei(i), organization: 'default' })),
    range,
    Date.now(),
  );
  const collector = new ModemCollector({
    config: {
      nodeId: 'bench',
      modemListen: { host: '127.0.0.1', port: 0 },
      bridgeHost,
      portRange: range,
      openBridgePorts: 'while-online',
      maxPendingIdentifications: 20_000,
    },
    store,
  });
  await collector.start();
  process.send!({ type: 'ready', port: collector.modemPort, rssBytes: rss(), bridgeFirst: first });
  process.on('message', () =>
    process.send!({ type: 'count', count: collector.sessionCount, rssBytes: rss() }),
  );
}

// ---------- driver side ----------
type Child = {
  ask(): Promise<Extract<ChildMessage, { type: 'count' }>>;
  ready: Extract<ChildMessage, { type: 'ready' }>;
  stop(): Promise<void>;
};

async function startChild(args: string[]): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-modem-bench-'));
  const child = fork(self, [...args, dir], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters: Array<(m: ChildMessage) => void> = [];
  child.on('message', (m: ChildMessage) => waiters.shift()?.(m));
  const next = () => new Promise<ChildMessage>((r) => waiters.push(r));
  const ready = (await next()) as Extract<ChildMessage, { type: 'ready' }>;
  return {
    ready,
    ask: async () => {
      const p = next();
      child.send({ type: 'count' });
      return (await p) as Extract<ChildMessage, { type: 'count' }>;
    },
    // The figures are taken; a graceful stop of thousands of sessions would only cost time.
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Dials `count` connections (at most `inFlight` connecting at once), each sending its IMEI line. */
async function dialAll(port: number, count: number, inFlight = 256): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const s = await new Promise<Socket>((resolve, reject) => {
        const sock = connect({
          host: '127.0.0.1',
          port,
          localAddress: sourceAddresses[i % sourceAddresses.length],
        });
        sock.once('connect', () => {
          sock.write(`${fleetImei(i)}\r\n`);
          resolve(sock);
        });
        sock.once('error', reject);
      });
      s.on('error', () => undefined);
      sockets.push(s);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return sockets;
}

async function untilCount(
  child: Child,
  count: number,
  timeoutMs: number,
): Promise<{ rssBytes: number; reached: number }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const m = await child.ask();
    if (m.count >= count || performance.now() > deadline) return { rssBytes: m.rssBytes, reached: m.count };
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function heldModems(count: number): Promise<void> {
  console.log(`modems held by one node (${count} modems, sources ${sourceAddresses.join(', ')})`);
  const base = await startChild(['baseline']);
  let t0 = performance.now();
  const baseSockets = await dialAll(base.ready.port, count);
  const baseDone = await untilCount(base, count, 60_000);
  const baseMs = performance.now() - t0;
  for (const s of baseSockets) s.destroy();
  await base.stop();

  const bridgeFirst = 20_000 + Math.floor(Math.random() * 20_000);
  const coll = await startChild(['collector', String(count), String(bridgeFirst)]);
  t0 = performance.now();
  const sockets = await dialAll(coll.ready.port, count);
  const done = await untilCount(coll, count, 60_000);
  const collMs = performance.now() - t0;
  printRatios(
    '  connection setup (dial + identify; collector: + registry update + bridge port opened)',
    { name: 'raw TCP server (baseline)', ops: baseDone.reached, elapsedMs: baseMs, unit: 'conn/s' },
    [{ name: 'modem collector', ops: done.reached, elapsedMs: collMs, unit: 'conn/s' }],
  );
  const basePer = (baseDone.rssBytes - base.ready.rssBytes) / Math.max(1, baseDone.reached);
  const collPer = (done.rssBytes - coll.ready.rssBytes) / Math.max(1, done.reached);
  printFigure('modems held by the collector', done.reached, 'modems', `of ${count} dialled`);
  printFigure('RSS per connection, raw TCP server (baseline)', basePer / 1024, 'KiB');
  printFigure(
    'RSS per connected modem, collector',
    collPer / 1024,
    'KiB',
    `${(collPer / basePer).toFixed(2)}x baseline`,
  );
  for (const s of sockets) s.destroy();
  await coll.stop();
}

/** An echo "meter": what a modem with a loopback plug would do. */
function echo(socket: Socket): void {
  socket.on('data', (c: Buffer) => {
    if (!socket.write(c)) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  });
}

async function throughput(poller: Socket, totalBytes: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x55);
  const t0 = performance.now();
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    setTimeout(() => reject(new Error(`throughput stalled at ${received} bytes`)), 60_000).unref();
    poller.on('data', (c: Buffer) => {
      received += c.length;
      if (received >= totalBytes) resolve();
    });
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes) {
        sent += chunk.length;
        if (!poller.write(chunk)) return void poller.once('drain', pump);
      }
    };
    pump();
  });
  poller.removeAllListeners('data');
  return performance.now() - t0;
}

async function roundTrips(poller: Socket, count: number): Promise<number[]> {
  const times: number[] = [];
  const msg = Buffer.from('/?!\r\n0123456789');
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let got = 0;
      const on = (c: Buffer) => {
        got += c.length;
        if (got >= msg.length) {
          poller.off('data', on);
          resolve();
        }
      };
      poller.on('data', on);
      poller.write(msg);
    });
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

async function bridgeFigures(): Promise<void> {
  const totalBytes = 64 * 1024 * 1024;
  const trips = 2000;
  // Direct: poller -> echo server.
  const direct: Server = createServer({ noDelay: true }, echo);
  await new Promise<void>((r) => direct.listen(0, '127.0.0.1', () => r()));
  const dAddr = direct.address() as { port: number };
  const dPoller = connect({ host: '127.0.0.1', port: dAddr.port, noDelay: true });
  await new Promise((r) => dPoller.once('connect', r));
  const directMs = await throughput(dPoller, totalBytes);
  const directTrips = await roundTrips(dPoller, trips);
  dPoller.destroy();
  direct.close();

  // Bridged: poller -> collector bridge port -> modem socket (echo).
  const bridgeFirst = 20_000 + Math.floor(Math.random() * 20_000);
  const coll = await startChild(['collector', '1', String(bridgeFirst)]);
  const modem = connect({ host: '127.0.0.1', port: coll.ready.port, noDelay: true });
  await new Promise((r) => modem.once('connect', r));
  modem.write(`${fleetImei(0)}\r\n`);
  await untilCount(coll, 1, 10_000);
  echo(modem);
  const bPoller = await new Promise<Socket>((resolve, reject) => {
    const tryDial = (left: number) => {
      const s = connect({ host: bridgeHost, port: bridgeFirst, noDelay: true });
      s.once('connect', () => resolve(s));
      s.once('error', (e) => (left > 0 ? setTimeout(() => tryDial(left - 1), 50) : reject(e)));
    };
    tryDial(40);
  });
  const bridgeMs = await throughput(bPoller, totalBytes);
  const bridgeTrips = await roundTrips(bPoller, trips);
  bPoller.destroy();
  modem.destroy();
  await coll.stop();

  const mib = totalBytes / (1024 * 1024);
  console.log('\nbridge port vs direct TCP (64 MiB echoed; 2,000 round trips of 16 bytes)');
  printRatios(
    '  throughput (MiB/s, bytes sent and echoed back)',
    { name: 'direct TCP to the echo meter (baseline)', ops: mib, elapsedMs: directMs, unit: 'MiB/s' },
    [{ name: 'through the bridge port and modem socket', ops: mib, elapsedMs: bridgeMs, unit: 'MiB/s' }],
  );
  const p50d = percentile(directTrips, 50);
  const p50b = percentile(bridgeTrips, 50);
  printFigure('round trip p50, direct (baseline)', p50d * 1000, 'us');
  printFigure('round trip p50, bridged', p50b * 1000, 'us', `${(p50b / p50d).toFixed(2)}x baseline`);
  printFigure('added latency per round trip (p50)', (p50b - p50d) * 1000, 'us');
  printFigure(
    'round trip p99, direct / bridged',
    percentile(directTrips, 99) * 1000,
    'us',
    `bridged ${(percentile(bridgeTrips, 99) * 1000).toFixed(0)} us`,
  );
}

const [role, a1, a2, a3] = process.argv.slice(2);
if (role === 'baseline') await childBaseline();
else if (role === 'collector') await childCollector(Number(a1), Number(a2), a3!);
else {
  const count = Number(process.env.MF_BENCH_MODEMS ?? 9000);
  await heldModems(count);
  await bridgeFigures();
  process.exit(0);
}
