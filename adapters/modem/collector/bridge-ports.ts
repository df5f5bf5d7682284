import type { BlockList } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ModemError, type ModemErrorCode } from '../errors.js';
import type { Organization } from '../registry/types.js';
import { buildAllowList, clientAllowed } from './client-access.js';
import type { ModemCollector } from './collector.js';
import { encodeForwardHeader, parseForwardReply } from './forward-protocol.js';
import { socketPoller } from './poller.js';

const forwardConnectTimeoutMs = 5000;

/**
 * The bridge ports: one listener per modem on its fixed port. A polling client is checked
 * against its organization's address ranges, then bridged to the modem held by this node or
 * forwarded to the node that holds it.
 */
export class BridgePorts {
  private readonly servers = new Map<number, { server: Server; imei: string; clients: Set<Socket> }>();
  private readonly allowLists = new Map<string, { org: Organization; list: BlockList }>();

  constructor(private readonly collector: ModemCollector) {}

  get openCount(): number {
    return this.servers.size;
  }

  async refresh(): Promise<void> {
    for (const record of await this.collector.store.list()) await this.ensure(record.port, record.imei);
  }

  async ensure(port: number, imei: string): Promise<void> {
    if (this.servers.has(port)) return;
    const clients = new Set<Socket>();
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
      clients.add(socket);
      socket.once('close', () => clients.delete(socket));
      void this.onPoller(socket, port, imei);
    });
    this.servers.set(port, { server, imei, clients });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.collector.config.bridgeHost, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      this.servers.delete(port);
      this.collector.log.error({ err, port, imei }, 'cannot open bridge port');
    });
  }

  async release(port: number): Promise<void> {
    const entry = this.servers.get(port);
    if (!entry) return;
    this.servers.delete(port);
    await new Promise<void>((r) => entry.server.close(() => r()));
  }

  async closeAll(): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    for (const entry of all) for (const c of entry.clients) c.destroy();
    await Promise.all(all.map((e) => new Promise<void>((r) => e.server.close(() => r()))));
  }

  /** Organizations change rarely; their allow lists are rebuilt when the stored record changes. */
  private async allowListFor(orgId: string): Promise<BlockList | undefined> {
    const org = await this.collector.store.getOrganization(orgId);
    if (!org) return undefined;
    const cached = this.allowLists.get(orgId);
    if (cached && JSON.stringify(cached.org) === JSON.stringify(org)) return cached.list;
    const list = buildAllowList(org);
    this.allowLists.set(orgId, { org, list });
    return list;
  }

  private async onPoller(socket: Socket, port: number, imei: string): Promise<void> {
    const { collector } = this;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', () => socket.destroy());
    const poller = socketPoller(socket, remote, collector.config.refusalNotice);
    const refuse = (code: ModemErrorCode, message: string) => {
      collector.log.warn({ port, imei, remote, code }, message);
      collector.emit('poller-rejected', { port, imei, remote, code, message });
      poller.refuse(code, message);
    };
    try {
      const record = await collector.store.get(imei);
      if (!record) return refuse('MF_MODEM_NOT_FOUND', `port ${port} is not assigned to a modem`);
      const allow = await this.allowListFor(record.organization);
      if (!allow || !clientAllowed(allow, socket.remoteAddress)) {
        return refuse(
          'MF_MODEM_CLIENT_DENIED',
          `client ${socket.remoteAddress} is not in the allowed ranges of organization ${record.organization}`,
        );
      }
      const session = collector.sessionOf(imei);
      if (session) return session.offer(poller);
      const holder = await collector.directory?.lookup(imei);
      if (holder && holder.nodeId !== collector.config.nodeId && holder.forwardAddress) {
        return await this.forward(socket, remote, port, imei, holder.forwardAddress);
      }
      return refuse('MF_MODEM_OFFLINE', `modem ${imei} (port ${port}) is offline; wait for it to dial in`);
    } catch (err) {
      collector.log.error({ err, port, imei }, 'bridge port failure');
      const code = err instanceof ModemError ? err.code : 'MF_MODEM_OFFLINE';
      refuse(code, err instanceof Error ? err.message : String(err));
    }
  }

  /** Carries the poller's bytes to the node holding the modem over an authenticated connection. */
  private forward(
    socket: Socket,
    remote: string,
    port: number,
    imei: string,
    address: string,
  ): Promise<void> {
    const { collector } = this;
    const secret = collector.config.forwardSecret;
    const poller = socketPoller(socket, remote, collector.config.refusalNotice);
    const refuse = (code: string, message: string) => {
      collector.emit('poller-rejected', { port, imei, remote, code, message });
      poller.refuse(code as ModemErrorCode, message);
    };
    if (!secret) {
      refuse('MF_MODEM_FORWARD_DENIED', 'modem is held by another node but forwarding is not configured');
      return Promise.resolve();
    }
    const sep = address.lastIndexOf(':');
    const upstream = connect({
      host: address.slice(0, sep),
      port: Number(address.slice(sep + 1)),
      noDelay: true,
    });
    let reply: Buffer = Buffer.alloc(0);
    let established = false;
    const timer = setTimeout(
      () => upstream.destroy(new Error('forward connect timeout')),
      forwardConnectTimeoutMs,
    );
    return new Promise<void>((resolve) => {
      upstream.once('connect', () => {
        upstream.write(encodeForwardHeader(secret, imei, remote, collector.clock.now()));
      });
      const onData = (chunk: Buffer) => {
        reply = Buffer.concat([reply, chunk]);
        const parsed = parseForwardReply(reply);
        if (!parsed) return;
        clearTimeout(timer);
        upstream.off('data', onData);
        if (!parsed.ok) {
          upstream.destroy();
          refuse(parsed.code, parsed.message);
          return resolve();
        }
        established = true;
        const rest = reply.subarray(parsed.consumedBytes);
        if (rest.length > 0) socket.write(rest);
        socket.pipe(upstream);
        upstream.pipe(socket);
        socket.once('close', () => upstream.destroy());
        upstream.once('close', () => socket.destroy());
        socket.resume();
        collector.emit('poller-attached', { imei, port, remote, forwarded: true });
        resolve();
      };
      upstream.on('data', onData);
      upstream.once('error', (err) => {
        clearTimeout(timer);
        if (established) socket.destroy();
        else refuse('MF_MODEM_OFFLINE', `forwarding to the node holding the modem failed: ${err.message}`);
        resolve();
      });
    });
  }
}
