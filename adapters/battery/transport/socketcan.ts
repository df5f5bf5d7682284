import type { CanFrame } from '../can/frame.js';
import { assertValidCanFrame } from '../can/frame.js';
import { BatteryTransportError } from '../errors.js';
import { Listeners, type Transport, type TransportEvent } from './transport.js';

/**
 * SocketCAN through the optional `socketcan` package (sebi2k1/node-can). It compiles a native
 * addon at install time and recent versions require Node ≥ 22 (reference §5), so it is loaded
 * only here, only when asked for, and its absence is a clear typed error, not a crash at import.
 */

/** The part of the `socketcan` API we use (createRawChannel → RawChannel). */
type RawMessage = { id: number; ext?: boolean; rtr?: boolean; data: Uint8Array };
type RawChannel = {
  addListener(event: 'onMessage', listener: (message: RawMessage) => void): void;
  addListener(event: 'onStopped', listener: () => void): void;
  start(): void;
  stop(): void;
  send(message: { id: number; ext: boolean; rtr: boolean; data: Buffer }): void;
};
type SocketCanModule = { createRawChannel(iface: string, timestamps?: boolean): RawChannel };

export type SocketCanLoader = () => Promise<unknown>;

const defaultLoader: SocketCanLoader = () => import(/* optional dependency */ 'socketcan' as string);

export async function openSocketCan(
  iface: string,
  loader: SocketCanLoader = defaultLoader,
): Promise<Transport<CanFrame>> {
  let mod: SocketCanModule;
  try {
    const loaded = (await loader()) as Partial<SocketCanModule> & { default?: Partial<SocketCanModule> };
    const candidate = typeof loaded.createRawChannel === 'function' ? loaded : loaded.default;
    if (!candidate || typeof candidate.createRawChannel !== 'function')
      throw new Error('module has no createRawChannel');
    mod = candidate as SocketCanModule;
  } catch (err) {
    throw new BatteryTransportError(
      'MF_BATTERY_SOCKETCAN_UNAVAILABLE',
      `SocketCAN is not available: the optional "socketcan" package could not be loaded (${(err as Error).message}). Install it with a working native build (Linux, node-gyp) or use a CAN-over-TCP gateway (canet) instead`,
      { iface },
      { cause: err },
    );
  }
  let channel: RawChannel;
  try {
    channel = mod.createRawChannel(iface, true);
    channel.start();
  } catch (err) {
    throw new BatteryTransportError(
      'MF_BATTERY_TRANSPORT_CONNECT',
      `SocketCAN interface "${iface}" could not be opened (${(err as Error).message}); check \`ip link show ${iface}\``,
      { iface },
      { cause: err },
    );
  }
  return new SocketCanTransport(channel, iface);
}

class SocketCanTransport implements Transport<CanFrame> {
  private readonly listeners = new Listeners<CanFrame>();
  private closed = false;
  readonly description: string;

  constructor(
    private readonly channel: RawChannel,
    iface: string,
  ) {
    this.description = `socketcan ${iface}`;
    channel.addListener('onMessage', (m) => {
      if (m.rtr) return;
      this.listeners.emit({
        type: 'message',
        message: { id: m.id, extended: Boolean(m.ext), data: new Uint8Array(m.data) },
      });
    });
    channel.addListener('onStopped', () => this.finish());
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.emit({ type: 'closed' });
    this.listeners.clear();
  }

  async send(frame: CanFrame): Promise<void> {
    if (this.closed)
      throw new BatteryTransportError('MF_BATTERY_TRANSPORT_CLOSED', `${this.description} is closed`);
    assertValidCanFrame(frame);
    this.channel.send({ id: frame.id, ext: frame.extended, rtr: false, data: Buffer.from(frame.data) });
  }

  subscribe(listener: (event: TransportEvent<CanFrame>) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.channel.stop();
    this.finish();
  }
}
