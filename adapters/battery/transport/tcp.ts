import { connect, type Socket } from 'node:net';
import type { MeterfabricError } from '../../../core/errors.js';
import { BatteryTransportError } from '../errors.js';
import { Listeners, type Transport, type TransportEvent, type WireFormat } from './transport.js';

export type TcpOptions = {
  connectTimeoutMs?: number;
  /** Bound on bytes queued in the socket while the peer is slow; beyond it send() fails (BUSY). */
  maxBufferedBytes?: number;
};

const defaultConnectTimeoutMs = 5_000;
const defaultMaxBufferedBytes = 256 * 1024;

/**
 * A framed byte stream over one TCP socket: the client side (connectTcp) and the server side
 * (the simulator wraps accepted sockets) share it.
 */
export class StreamTransport<M> implements Transport<M> {
  private readonly listeners = new Listeners<M>();
  private readonly deframer: {
    push(chunk: Uint8Array): ReturnType<ReturnType<WireFormat<M>['createDeframer']>['push']>;
  };
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly format: WireFormat<M>,
    readonly description: string,
    private readonly maxBufferedBytes = defaultMaxBufferedBytes,
  ) {
    this.deframer = format.createDeframer();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const r of this.deframer.push(chunk)) {
        this.listeners.emit(
          r.ok ? { type: 'message', message: r.message } : { type: 'error', error: r.error },
        );
      }
    });
    socket.on('error', (err) => {
      this.finish(
        new BatteryTransportError(
          'MF_BATTERY_TRANSPORT_CLOSED',
          `${description}: ${err.message}`,
          {},
          { cause: err },
        ),
      );
    });
    socket.on('close', () => this.finish());
  }

  private finish(reason?: MeterfabricError): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.emit(reason ? { type: 'closed', reason } : { type: 'closed' });
    this.listeners.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async send(message: M): Promise<void> {
    if (this.closed)
      throw new BatteryTransportError('MF_BATTERY_TRANSPORT_CLOSED', `${this.description} is closed`);
    if (this.socket.writableLength > this.maxBufferedBytes) {
      throw new BatteryTransportError(
        'MF_BATTERY_TRANSPORT_BUSY',
        `${this.description}: ${this.socket.writableLength} bytes already queued (limit ${this.maxBufferedBytes}); the peer is not reading`,
      );
    }
    this.socket.write(this.format.encode(message));
  }

  subscribe(listener: (event: TransportEvent<M>) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      // A peer that never answers our FIN must not hold the close forever.
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1_000).unref();
    });
    this.finish();
  }
}

/** Connects to a CAN gateway or serial server at host:port speaking `format`. */
export function connectTcp<M>(
  host: string,
  port: number,
  format: WireFormat<M>,
  options: TcpOptions = {},
): Promise<StreamTransport<M>> {
  const timeoutMs = options.connectTimeoutMs ?? defaultConnectTimeoutMs;
  const description = `${format.name} tcp ${host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new BatteryTransportError(
          'MF_BATTERY_TRANSPORT_TIMEOUT',
          `${description}: no connection within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new BatteryTransportError(
          'MF_BATTERY_TRANSPORT_CONNECT',
          `${description}: cannot connect (${err.message}); is the gateway or simulator running?`,
          {},
          { cause: err },
        ),
      );
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(new StreamTransport(socket, format, description, options.maxBufferedBytes));
    });
  });
}

/** "host:port" → parts; the port must be given (0 only where a listener may let the OS choose). */
export function parseAddress(
  address: string,
  options: { allowPortZero?: boolean } = {},
): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address.trim());
  const host = match?.[1];
  const port = Number(match?.[2]);
  if (!host || !(port >= (options.allowPortZero ? 0 : 1) && port <= 65535)) {
    throw new BatteryTransportError('MF_BATTERY_TRANSPORT_CONNECT', `"${address}" is not host:port`);
  }
  return { host, port };
}
