/**
 * A proxied link with no toxic is a straight pipe, and still bounded: when the upstream stops
 * reading, the link stops reading from the client once about `maxLinkBufferedBytes` wait for
 * the upstream (the client's own writes back up instead of the proxy's memory), and when the
 * upstream reads again every byte arrives, in order. A toxic added to that open connection
 * takes over from the next chunk. Real loopback sockets, a Connection as the proxy builds it.
 */
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, maxLinkBufferedBytes } from '../../chaos/toxiproxy/connection.js';
import { realStageEnv } from '../../chaos/toxiproxy/stages.js';
import { parseNewToxic } from '../../chaos/toxiproxy/toxic-types.js';
import { startUpstream, type Upstream } from './support/sockets.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A listener that wires each accepted client to `upstreamPort` through a Connection. */
async function pipeListener(
  upstreamPort: number,
): Promise<{ port: number; connection: Promise<Connection> }> {
  let resolveConnection: (c: Connection) => void = () => {};
  const connection = new Promise<Connection>((r) => {
    resolveConnection = r;
  });
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort, allowHalfOpen: true }, () => {
      const c = new Connection(
        client,
        upstream,
        { upstream: [], downstream: [] },
        false,
        realStageEnv,
        () => {},
      );
      cleanup.push(() => c.close());
      client.resume();
      resolveConnection(c);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, connection };
}

function pattern(index: number, sizeBytes: number): Buffer {
  const chunk = Buffer.allocUnsafe(sizeBytes);
  for (let i = 0; i < sizeBytes; i += 4) chunk.writeUInt32LE((index * sizeBytes + i) >>> 0, i);
  return chunk;
}

describe('a link without toxics (straight pipe)', () => {
  it('stops reading from the client at its bound while the upstream does not read, then delivers every byte in order', async () => {
    let upstreamSocket: Socket | undefined;
    const received = createHash('sha256');
    let receivedBytes = 0;
    const upstream: Upstream = await startUpstream((socket) => {
      upstreamSocket = socket;
      socket.pause();
      socket.on('data', (d: Buffer) => {
        received.update(d);
        receivedBytes += d.length;
      });
    });
    cleanup.push(() => upstream.close());
    const { port, connection } = await pipeListener(upstream.port);
    const client = connect({ host: '127.0.0.1', port });
    cleanup.push(() => void client.destroy());
    await new Promise<void>((r) => client.once('connect', () => r()));
    const c = await connection;

    // Write far more than the loopback kernel buffers hold, without waiting for 'drain'.
    const chunkBytes = 64 * 1024;
    const chunks = 512; // 32 MiB
    const sent = createHash('sha256');
    for (let i = 0; i < chunks; i++) {
      const chunk = pattern(i, chunkBytes);
      sent.update(chunk);
      client.write(chunk);
    }
    // Wait until the whole path has backed up: the client's own buffer stops shrinking.
    let last = -1;
    for (let stable = 0; stable < 5; ) {
      await new Promise((r) => setTimeout(r, 100));
      stable = client.writableLength === last ? stable + 1 : 0;
      last = client.writableLength;
    }
    expect(client.writableLength).toBeGreaterThan(0);
    // The proxy holds at most its bound plus the one read that crossed it.
    expect(c.upstream.writableLength).toBeLessThanOrEqual(maxLinkBufferedBytes + chunkBytes);
    expect(c.client.isPaused()).toBe(true);

    upstreamSocket?.resume();
    const totalBytes = chunkBytes * chunks;
    for (let waited = 0; receivedBytes < totalBytes && waited < 120_000; waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    expect(receivedBytes).toBe(totalBytes);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
  }, 180_000);

  it('a latency toxic added to the open connection delays the next chunk; removed, the pipe is straight again', async () => {
    const arrivals: number[] = [];
    const upstream = await startUpstream((socket) =>
      socket.on('data', () => arrivals.push(performance.now())),
    );
    cleanup.push(() => upstream.close());
    const { port, connection } = await pipeListener(upstream.port);
    const client = connect({ host: '127.0.0.1', port });
    cleanup.push(() => void client.destroy());
    await new Promise<void>((r) => client.once('connect', () => r()));
    const c = await connection;
    const sendAndWait = async (): Promise<number> => {
      const before = arrivals.length;
      const sentAt = performance.now();
      client.write('x');
      while (arrivals.length === before) await new Promise((r) => setTimeout(r, 5));
      return (arrivals.at(-1) as number) - sentAt;
    };
    await sendAndWait();
    const spec = parseNewToxic(
      { name: 'lat', type: 'latency', stream: 'upstream', attributes: { latency: 300, jitter: 0 } },
      () => false,
    );
    c.upstreamLink.addToxic(spec);
    expect(await sendAndWait()).toBeGreaterThanOrEqual(295);
    c.upstreamLink.removeToxic('lat');
    // The quickest of three: a toxic still in place delays every one, while one stall of this
    // process on a loaded box must not pass for it.
    const straight = [await sendAndWait(), await sendAndWait(), await sendAndWait()];
    expect(Math.min(...straight)).toBeLessThan(295);
  }, 60_000);
});
