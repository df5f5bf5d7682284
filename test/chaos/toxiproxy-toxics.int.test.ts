/**
 * Each toxic's observable effect on real sockets, driven by the unmodified toxiproxy-node-client:
 * added latency within tolerance, bandwidth rate, timeout dropping data, reset_peer giving
 * ECONNRESET, limit_data closing after N bytes, down refusing connections, and toxic changes
 * reaching connections that are already open.
 */
import type { Socket } from 'node:net';
import type { Proxy as ClientProxy, ICreateToxicBody, Toxic } from 'toxiproxy-node-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  echo,
  median,
  RecordingClient,
  roundTripMs,
  startUpstream,
  tryConnect,
  type Upstream,
} from './support/sockets.js';
import {
  listenPort,
  removeAll,
  startToxiproxyTarget,
  type ToxiproxyTarget,
} from './support/toxiproxy-target.js';

let target: ToxiproxyTarget;
let echoServer: Upstream;
const clients: RecordingClient[] = [];

beforeAll(async () => {
  target = await startToxiproxyTarget();
  echoServer = await startUpstream(echo);
});
afterAll(async () => {
  await target?.close();
  await echoServer?.close();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await removeAll(target.client);
});

let proxyCounter = 0;
async function proxyTo(upstreamPort: number): Promise<ClientProxy> {
  proxyCounter += 1;
  return target.client.createProxy({
    name: `fx${proxyCounter}`,
    listen: '127.0.0.1:0',
    upstream: `127.0.0.1:${upstreamPort}`,
  });
}

async function open(proxy: ClientProxy): Promise<RecordingClient> {
  const client = new RecordingClient(listenPort(proxy.listen));
  clients.push(client);
  await client.connected;
  return client;
}

/** A proxy to `upstreamPort` with `toxic` on it from the start, and a client connected through both. */
async function openWithToxic<T>(
  upstreamPort: number,
  toxic: ICreateToxicBody<T>,
): Promise<{ proxy: ClientProxy; toxic: Toxic<T>; client: RecordingClient }> {
  const proxy = await proxyTo(upstreamPort);
  const added = await proxy.addToxic(toxic);
  return { proxy, toxic: added, client: await open(proxy) };
}

async function medianRtt(client: RecordingClient, samples = 5): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) values.push(await roundTripMs(client));
  return median(values);
}

function sender(bytes: number): (socket: Socket) => void {
  return (socket) => {
    socket.once('data', () => socket.end(Buffer.alloc(bytes, 0x61)));
  };
}

describe('toxic effects on real sockets', () => {
  it('latency adds its delay to each round trip, in either stream, on a connection already open', async () => {
    const proxy = await proxyTo(echoServer.port);
    const client = await open(proxy);
    const base = await medianRtt(client);
    await proxy.addToxic({
      name: 'down',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 100, jitter: 0 },
    });
    const withDown = await medianRtt(client, 3);
    // Upper bounds sit below the delay applied twice, with room for a loaded box's stalls.
    expect(withDown - base).toBeGreaterThanOrEqual(95);
    expect(withDown - base).toBeLessThan(190);
    await proxy.addToxic({
      name: 'up',
      type: 'latency',
      stream: 'upstream',
      toxicity: 1,
      attributes: { latency: 50, jitter: 0 },
    });
    const withBoth = await medianRtt(client, 3);
    expect(withBoth - base).toBeGreaterThanOrEqual(145);
    expect(withBoth - base).toBeLessThan(290);
  });

  it('updating a toxic changes its effect on a connection already open', async () => {
    const proxy = await proxyTo(echoServer.port);
    const client = await open(proxy);
    const base = await medianRtt(client);
    const toxic = await proxy.addToxic({
      name: 'lat',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 50, jitter: 0 },
    });
    expect((await medianRtt(client, 3)) - base).toBeLessThan(200);
    await toxic.update({ ...toxic.toJson(), attributes: { latency: 250, jitter: 0 } });
    const after = (await medianRtt(client, 3)) - base;
    expect(after).toBeGreaterThanOrEqual(240);
    expect(after).toBeLessThan(490);
  });

  it('latency jitter spreads round trips over latency ± jitter', async () => {
    const { client } = await openWithToxic(echoServer.port, {
      name: 'j',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 80, jitter: 40 },
    });
    const samples: number[] = [];
    for (let i = 0; i < 12; i++) samples.push(await roundTripMs(client));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(39);
    // The largest of 12 round trips: one scheduling stall on a loaded box must not fail it.
    expect(Math.max(...samples)).toBeLessThan(240);
    expect(Math.max(...samples) - Math.min(...samples)).toBeGreaterThan(10);
  });

  it('removing a latency toxic flushes what it holds: no byte is lost', async () => {
    const { toxic, client } = await openWithToxic(echoServer.port, {
      name: 'hold',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 60_000, jitter: 0 },
    });
    const payload = Buffer.alloc(10_000, 0x42);
    client.socket.write(payload);
    await new Promise((r) => setTimeout(r, 100));
    expect(client.received().length).toBe(0);
    const removedAt = performance.now();
    await toxic.remove();
    // Held, the bytes would arrive a minute after they were sent: far beyond these bounds,
    // which leave a loaded box room for the removal's HTTP round trip.
    const arrivedAt = await client.waitForBytes(payload.length, 30_000);
    expect(arrivedAt - removedAt).toBeLessThan(20_000);
    expect(client.received().equals(payload)).toBe(true);
  });

  it('toxicity 0 leaves the link untouched', async () => {
    const { client } = await openWithToxic(echoServer.port, {
      name: 'never',
      type: 'latency',
      stream: 'downstream',
      toxicity: 0,
      attributes: { latency: 1_000, jitter: 0 },
    });
    expect(await medianRtt(client, 3)).toBeLessThan(500);
  });

  it('bandwidth limits the downstream rate to `rate` KB/s', async () => {
    const totalBytes = 300_000;
    const source = await startUpstream(sender(totalBytes));
    try {
      const { client } = await openWithToxic(source.port, {
        name: 'bw',
        type: 'bandwidth',
        stream: 'downstream',
        toxicity: 1,
        attributes: { rate: 300 },
      });
      const start = performance.now();
      client.socket.write('go');
      const done = await client.waitForBytes(totalBytes, 20_000);
      const kbPerSecond = totalBytes / (done - start);
      // 300 KB/s: 300,000 bytes take about one second.
      // The lower bound gives a loaded box half a second of stalls over the one-second transfer.
      expect(kbPerSecond).toBeGreaterThan(300 * 0.6);
      expect(kbPerSecond).toBeLessThan(300 * 1.25);
    } finally {
      await source.close();
    }
  });

  it('timeout drops all data and closes the connection after `timeout` ms', async () => {
    const { client } = await openWithToxic(echoServer.port, {
      name: 'to',
      type: 'timeout',
      stream: 'downstream',
      toxicity: 1,
      attributes: { timeout: 300 },
    });
    const start = performance.now();
    client.socket.write('hello?');
    await client.closed;
    expect(client.received().length).toBe(0);
    expect((client.endedAtMs as number) - start).toBeGreaterThanOrEqual(250);
    expect((client.endedAtMs as number) - start).toBeLessThan(1_500);
  });

  it('timeout 0 drops data but keeps the connection; removing it closes the affected connection', async () => {
    const { toxic, client } = await openWithToxic(echoServer.port, {
      name: 'black',
      type: 'timeout',
      stream: 'upstream',
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    client.socket.write('lost');
    await new Promise((r) => setTimeout(r, 300));
    expect(client.received().length).toBe(0);
    expect(client.endedAtMs).toBeUndefined();
    await toxic.remove();
    await client.closed;
    expect(client.received().length).toBe(0);
  });

  it('reset_peer resets the connection: the client gets ECONNRESET', async () => {
    const { client } = await openWithToxic(echoServer.port, {
      name: 'rst',
      type: 'reset_peer',
      stream: 'downstream',
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    client.socket.write('knock');
    await client.closed;
    expect(client.errorCode).toBe('ECONNRESET');
    expect(client.received().length).toBe(0);
  });

  it('reset_peer waits `timeout` ms after the first data before resetting', async () => {
    const { client } = await openWithToxic(echoServer.port, {
      name: 'rst',
      type: 'reset_peer',
      stream: 'upstream',
      toxicity: 1,
      attributes: { timeout: 300 },
    });
    const start = performance.now();
    client.socket.write('knock');
    await client.closed;
    expect(client.errorCode).toBe('ECONNRESET');
    expect((client.endedAtMs as number) - start).toBeGreaterThanOrEqual(250);
  });

  it('limit_data forwards exactly `bytes` bytes, then closes the connection', async () => {
    const source = await startUpstream(sender(50_000));
    try {
      const { client } = await openWithToxic(source.port, {
        name: 'lim',
        type: 'limit_data',
        stream: 'downstream',
        toxicity: 1,
        attributes: { bytes: 1_234 },
      });
      client.socket.write('go');
      await client.closed;
      expect(client.received().length).toBe(1_234);
    } finally {
      await source.close();
    }
  });

  it('down (enabled:false) refuses new connections and closes open ones', async () => {
    const proxy = await proxyTo(echoServer.port);
    const client = await open(proxy);
    await roundTripMs(client);
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    await client.closed;
    expect(await tryConnect(listenPort(proxy.listen))).toBe('ECONNREFUSED');
  });

  it('slow_close holds the close for `delay` ms while data passes at once', async () => {
    const source = await startUpstream(sender(100));
    try {
      const { client } = await openWithToxic(source.port, {
        name: 'sc',
        type: 'slow_close',
        stream: 'downstream',
        toxicity: 1,
        attributes: { delay: 1_000 },
      });
      client.socket.write('go');
      const dataAt = await client.waitForBytes(100);
      await client.closed;
      // dataAt is taken when this process reads the bytes: a stall before that read shortens
      // the measured hold, so the bound leaves 200 ms of it.
      expect((client.endedAtMs as number) - dataAt).toBeGreaterThanOrEqual(800);
    } finally {
      await source.close();
    }
  });

  it('slicer cuts data into pieces of about average_size, all bytes in order', async () => {
    const { client } = await openWithToxic(echoServer.port, {
      name: 'sl',
      type: 'slicer',
      stream: 'downstream',
      toxicity: 1,
      // 50 ms between pieces (delay is in µs): the client reads each piece on its own unless
      // this process stalls longer than that (5 ms apart, a loaded box's stalls merged pieces).
      attributes: { average_size: 100, size_variation: 20, delay: 50_000 },
    });
    const payload = Buffer.from(Array.from({ length: 1_000 }, (_, i) => i % 251));
    client.socket.write(payload);
    await client.waitForBytes(payload.length);
    expect(client.received().equals(payload)).toBe(true);
    expect(client.chunks.length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...client.chunks.map((c) => c.data.length))).toBeLessThanOrEqual(240);
  });

  it('a connection to a dead upstream is accepted, then closed (EOF)', async () => {
    const dead = await startUpstream(() => {});
    const port = dead.port;
    await dead.close();
    const proxy = await proxyTo(port);
    const client = await open(proxy);
    await client.closed;
    expect(client.received().length).toBe(0);
  });
});
