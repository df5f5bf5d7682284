import { createServer, type Server, type Socket } from 'node:net';
import { isMeterfabricError } from '../../../core/errors.js';
import type { ModemCollector } from './collector.js';
import { encodeForwardReply, parseForwardHeader } from './forward-protocol.js';
import { socketPoller } from './poller.js';

const headerTimeoutMs = 5000;

/** Accepts polls other nodes forward to modems this node holds (see forward-protocol.ts). */
export class ForwardListener {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly collector: ModemCollector,
    private readonly secret: string,
  ) {}

  get address(): string | undefined {
    const a = this.server?.address();
    return typeof a === 'object' && a ? `${a.address}:${a.port}` : undefined;
  }

  listen(host: string, port: number): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private onConnection(socket: Socket): void {
    const { collector } = this;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), headerTimeoutMs);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      try {
        const header = parseForwardHeader(buffered, this.secret, collector.clock.now());
        if (!header) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.pause();
        const rest = buffered.subarray(header.consumedBytes);
        if (rest.length > 0) socket.unshift(rest);
        const session = collector.sessionOf(header.imei);
        if (!session) {
          socket.end(
            encodeForwardReply({
              ok: false,
              code: 'MF_MODEM_OFFLINE',
              message: `modem ${header.imei} is offline`,
            }),
          );
          return;
        }
        socket.write(encodeForwardReply({ ok: true }));
        session.offer(socketPoller(socket, `fwd:${header.client}`, collector.config.refusalNotice));
      } catch (err) {
        clearTimeout(timer);
        socket.off('data', onData);
        if (!isMeterfabricError(err)) {
          collector.log.error({ err }, 'forwarded poll failed unexpectedly');
          socket.destroy();
          return;
        }
        collector.log.warn({ remote: socket.remoteAddress, err: err.message }, 'forwarded poll refused');
        socket.end(encodeForwardReply({ ok: false, code: 'MF_MODEM_FORWARD_DENIED', message: err.message }));
      }
    };
    socket.on('data', onData);
  }
}
