import type { CanFrame } from '../can/frame.js';
import {
  formatSocketcandCommand,
  formatSocketcandSend,
  SocketcandDeframer,
  type SocketcandMessage,
} from '../can/socketcand.js';
import { BatteryTransportError } from '../errors.js';
import { connectTcp, type TcpOptions } from './tcp.js';
import { Listeners, type Transport, type TransportEvent, type WireFormat } from './transport.js';

/** Control commands and frames of socketcand as one wire format (we send `send` and control commands). */
const socketcandWireFormat: WireFormat<SocketcandMessage> = {
  name: 'socketcand',
  encode: (m) =>
    Buffer.from(
      m.kind === 'frame' ? formatSocketcandSend(m.frame) : formatSocketcandCommand(...m.words),
      'latin1',
    ),
  createDeframer: () => new SocketcandDeframer(),
};

/**
 * CAN through a socketcand server (a Linux box with the CAN interface, or an adapter speaking
 * the same protocol): connect, wait for `< hi >`, `< open bus >`, `< rawmode >`, then frames.
 */
export async function connectSocketcand(
  host: string,
  port: number,
  bus: string,
  options: TcpOptions & { handshakeTimeoutMs?: number } = {},
): Promise<Transport<CanFrame>> {
  if (!/^[A-Za-z0-9_.-]{1,16}$/.test(bus)) {
    throw new BatteryTransportError(
      'MF_BATTERY_TRANSPORT_CONNECT',
      `socketcand bus name "${bus}" is not 1–16 plain characters`,
    );
  }
  const stream = await connectTcp(host, port, socketcandWireFormat, options);
  const description = `socketcand ${host}:${port}/${bus}`;
  const controls: string[][] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = stream.subscribe((e) => {
    if (e.type === 'message' && e.message.kind === 'control') controls.push(e.message.words);
    wake?.();
  });
  const timeoutMs = options.handshakeTimeoutMs ?? 5_000;
  const expect = async (word: string, after: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const next = controls.shift();
      if (next) {
        if (next[0] === word) return;
        throw new BatteryTransportError(
          'MF_BATTERY_TRANSPORT_CONNECT',
          `${description}: expected < ${word} > after ${after}, got < ${next.join(' ')} >`,
        );
      }
      if (stream.isClosed)
        throw new BatteryTransportError(
          'MF_BATTERY_TRANSPORT_CONNECT',
          `${description}: closed during ${after}`,
        );
      const leftMs = deadline - Date.now();
      if (leftMs <= 0)
        throw new BatteryTransportError(
          'MF_BATTERY_TRANSPORT_TIMEOUT',
          `${description}: no < ${word} > within ${timeoutMs} ms after ${after}`,
        );
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.min(leftMs, 100));
      });
    }
  };
  try {
    await expect('hi', 'connecting');
    await stream.send({ kind: 'control', words: ['open', bus] });
    await expect('ok', `open ${bus}`);
    await stream.send({ kind: 'control', words: ['rawmode'] });
    await expect('ok', 'rawmode');
  } catch (err) {
    unsubscribe();
    await stream.close();
    throw err;
  } finally {
    wake = undefined;
  }
  unsubscribe();
  return new SocketcandTransport(stream, description);
}

class SocketcandTransport implements Transport<CanFrame> {
  private readonly listeners = new Listeners<CanFrame>();

  constructor(
    private readonly stream: Transport<SocketcandMessage>,
    readonly description: string,
  ) {
    stream.subscribe((event) => {
      if (event.type === 'message') {
        if (event.message.kind === 'frame')
          this.listeners.emit({ type: 'message', message: event.message.frame });
        // Control messages in RAW mode (echo replies, statistics) carry no battery data.
      } else this.listeners.emit(event);
    });
  }

  send(frame: CanFrame): Promise<void> {
    return this.stream.send({ kind: 'frame', frame });
  }

  subscribe(listener: (event: TransportEvent<CanFrame>) => void): () => void {
    return this.listeners.add(listener);
  }

  close(): Promise<void> {
    return this.stream.close();
  }
}
