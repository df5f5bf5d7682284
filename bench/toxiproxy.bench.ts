/**
 * Proxy overhead: throughput and round-trip latency through a Toxiproxy-compatible proxy with
 * no toxics, against a direct connection to the same server, measured in the same run.
 * The proxy runs in its own process (`meterfabric chaos toxiproxy`), as it does in chaos runs.
 * Target: proxied throughput ≥ 90% of direct.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Toxiproxy } from 'toxiproxy-node-client';
import { packageRoot } from '../core/paths.js';
import { type Measurement, percentile, printFigure, printRatios } from './support/report.js';

const throughputMs = 1_000;
const throughputRounds = 5;
const roundTrips = 400;
const rttBatches = 5;
const chunk = Buffer.alloc(64 * 1024, 0x5a);

/**
 * The sink (counts nothing, reads everything, closes its side once it has read the end) and the
 * echo server run in their own process, so that direct and proxied runs both cross a process
 * boundary and the client is measured alone.
 */
const serversScript = `
import { createServer } from 'node:net';
const sink = createServer((s) => { s.on('error', () => s.destroy()); s.on('end', () => s.end()); s.resume(); });
const echo = createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); });
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
await new Promise((r) => echo.listen(0, '127.0.0.1', r));
console.log(JSON.stringify({ sinkPort: sink.address().port, echoPort: echo.address().port }));
`;

/**
 * A bare relay (`c.pipe(u); u.pipe(c)`), in its own process: the floor any userspace proxy in
 * Node pays on this machine. Our proxy's distance from it is its own overhead.
 */
const relayScript = (port: number) => `
import { createServer, connect } from 'node:net';
const server = createServer((c) => { const u = connect(${port}, '127.0.0.1'); c.setNoDelay(true); u.setNoDelay(true);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); c.pipe(u); u.pipe(c); });
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

async function startChild<T>(script: string): Promise<T & { stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<T>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench helper exited with ${code}`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as T));
  });
  return {
    ...info,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function startProxyProcess(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [join(packageRoot, 'bin/meterfabric.js'), 'chaos', 'toxiproxy', '--host', '127.0.0.1', '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, MF_LOG_LEVEL: 'warn' },
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`toxiproxy exited with ${code}`)));
    lines.on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]!);
    });
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

async function throughput(name: string, port: number): Promise<Measurement> {
  const socket = await open(port);
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < throughputMs) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
    bytes += chunk.length;
  }
  // Count only what the sink has read: it closes its side after reading our end, so the
  // close arrives only once every byte has crossed every hop (kernel buffers included, which
  // a proxy doubles: stopping at our own flush would flatter it).
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.end();
  socket.resume();
  await closed;
  const elapsedMs = performance.now() - start;
  return { name, ops: bytes / 1e6, elapsedMs, unit: 'MB/s' };
}

async function latencies(port: number): Promise<number[]> {
  const socket = await open(port);
  const samples: number[] = [];
  const message = Buffer.alloc(100, 1);
  for (let i = 0; i < roundTrips; i++) {
    const start = performance.now();
    socket.write(message);
    let got = 0;
    await new Promise<void>((resolve) => {
      const onData = (data: Buffer) => {
        got += data.length;
        if (got >= message.length) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
    });
    samples.push(performance.now() - start);
  }
  socket.destroy();
  return samples;
}

async function main(): Promise<void> {
  const servers = await startChild<{ sinkPort: number; echoPort: number }>(serversScript);
  const relay = await startChild<{ port: number }>(relayScript(servers.sinkPort));
  const proxyServer = await startProxyProcess();
  try {
    const client = new Toxiproxy(proxyServer.url);
    const sinkProxy = await client.createProxy({
      name: 'sink',
      listen: '127.0.0.1:0',
      upstream: `127.0.0.1:${servers.sinkPort}`,
    });
    const echoProxy = await client.createProxy({
      name: 'echo',
      listen: '127.0.0.1:0',
      upstream: `127.0.0.1:${servers.echoPort}`,
    });
    const portOf = (listen: string) => Number(listen.slice(listen.lastIndexOf(':') + 1));

    // Warm-up, then interleave short runs of each path so that load from elsewhere on the
    // machine hits all three alike; each row sums its runs.
    await throughput('warm-up', servers.sinkPort);
    const rows = {
      direct: { name: 'direct TCP (64 KiB writes)', port: servers.sinkPort },
      proxied: { name: 'through our proxy, no toxics', port: portOf(sinkProxy.listen) },
      bare: { name: 'through a bare Node pipe relay', port: relay.port },
    };
    const totals = new Map<string, Measurement>();
    for (let round = 0; round < throughputRounds; round++) {
      for (const row of Object.values(rows)) {
        const m = await throughput(row.name, row.port);
        const sum = totals.get(row.name) ?? { name: row.name, ops: 0, elapsedMs: 0, unit: 'MB/s' };
        totals.set(row.name, { ...sum, ops: sum.ops + m.ops, elapsedMs: sum.elapsedMs + m.elapsedMs });
      }
    }
    const direct = totals.get(rows.direct.name)!;
    const proxied = totals.get(rows.proxied.name)!;
    const bare = totals.get(rows.bare.name)!;
    printRatios('throughput (baseline: direct)', direct, [proxied, bare]);
    printRatios('throughput (baseline: bare relay, the floor for any Node proxy)', bare, [proxied]);

    // Round trips, interleaved in batches for the same reason.
    const directRtt: number[] = [];
    const proxiedRtt: number[] = [];
    for (let batch = 0; batch < rttBatches; batch++) {
      directRtt.push(...(await latencies(servers.echoPort)));
      proxiedRtt.push(...(await latencies(portOf(echoProxy.listen))));
    }
    directRtt.sort((a, b) => a - b);
    proxiedRtt.sort((a, b) => a - b);
    const rttRate = (name: string, samples: number[]): Measurement => ({
      name,
      ops: samples.length,
      elapsedMs: samples.reduce((a, b) => a + b, 0),
      unit: 'round trips/s',
    });
    printRatios('100-byte echo round trips, one in flight (baseline: direct)', rttRate('direct', directRtt), [
      rttRate('through proxy, no toxics', proxiedRtt),
    ]);
    for (const p of [50, 99]) {
      printFigure(`direct round trip p${p}`, percentile(directRtt, p) * 1000, 'µs');
      printFigure(
        `proxied round trip p${p}`,
        percentile(proxiedRtt, p) * 1000,
        'µs',
        `${(percentile(proxiedRtt, p) / percentile(directRtt, p)).toFixed(2)}x direct`,
      );
    }
  } finally {
    await proxyServer.stop();
    await relay.stop();
    await servers.stop();
  }
}

await main();
