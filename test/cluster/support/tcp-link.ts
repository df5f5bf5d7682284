import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A real TCP forwarder on a free loopback port in front of one endpoint (e.g. etcd), so a
 * test can cut one node's link to it while the node's other links stay up. cut() resets
 * every open connection and refuses new ones until restore(); close() stops it.
 */
export class TcpLink {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;
  private readonly server = createServer((inbound) => this.forward(inbound));
  endpoint = '';

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async start(target: string): Promise<TcpLink> {
    const colon = target.lastIndexOf(':');
    const link = new TcpLink(target.slice(0, colon), Number(target.slice(colon + 1)));
    await new Promise<void>((resolve, reject) => {
      link.server.once('error', reject);
      link.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = link.server.address();
    link.endpoint = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return link;
  }

  private forward(inbound: Socket): void {
    if (this.cutOff) {
      inbound.resetAndDestroy();
      return;
    }
    const outbound = createConnection({ host: this.targetHost, port: this.targetPort });
    for (const socket of [inbound, outbound]) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined); // resets are what this helper is for
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.once('close', () => outbound.destroy());
    outbound.once('close', () => inbound.destroy());
  }

  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
