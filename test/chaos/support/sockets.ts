/**
 * Real-socket helpers for the Toxiproxy compatibility suite: upstream servers with known
 * behaviour and a client that records what it receives, when, and how the connection ended.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Upstream = { server: Server; port: number; sockets: Set<Socket>; close(): Promise<void> };

/** A TCP server on 127.0.0.1 (free port) that hands each connection to `onConnection`. */
export async function startUpstream(onConnection: (socket: Socket) => void): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    server,
    port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export const echo = (socket: Socket): void => {
  socket.on('data', (data) => socket.write(data));
};

/** A client connection that records every chunk, its arrival time, and how it ended. */
export class RecordingClient {
  readonly socket: Socket;
  readonly chunks: { data: Buffer; atMs: number }[] = [];
  errorCode: string | undefined;
  endedAtMs: number | undefined;
  closed: Promise<void>;
  readonly connected: Promise<void>;

  constructor(port: number, host = '127.0.0.1') {
    this.socket = connect({ port, host });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('data', (data: Buffer) => this.chunks.push({ data, atMs: performance.now() }));
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      this.errorCode = err.code;
    });
    this.closed = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.endedAtMs ??= performance.now();
        resolve();
      }),
    );
    this.socket.on('end', () => {
      this.endedAtMs ??= performance.now();
    });
  }

  received(): Buffer {
    return Buffer.concat(this.chunks.map((c) => c.data));
  }

  /** Resolves once `bytes` have arrived (or rejects after `timeoutMs`). */
  async waitForBytes(bytes: number, timeoutMs = 20_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (this.received().length < bytes) {
      if (performance.now() > deadline) {
        throw new Error(`only ${this.received().length} of ${bytes} bytes arrived within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    return performance.now();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** One echo round trip on an open client: send `payload`, wait for it to come back; returns ms. */
export async function roundTripMs(client: RecordingClient, payload = Buffer.from('ping')): Promise<number> {
  const before = client.received().length;
  const start = performance.now();
  client.socket.write(payload);
  const done = await client.waitForBytes(before + payload.length);
  return done - start;
}

/** Connect attempt result: 'connected' or the error code (ECONNREFUSED etc.). */
export function tryConnect(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
