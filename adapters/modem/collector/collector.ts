import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { type Clock, systemClock } from '../../../core/clock.js';
import { isMeterfabricError } from '../../../core/errors.js';
import { type Logger, silentLogger } from '../../../core/logger.js';
import { ModemError } from '../errors.js';
import type { ModemIdentification } from '../identification.js';
import type { ModemRegistryStore } from '../registry/store.js';
import type { ModemPatch, ModemRecord } from '../registry/types.js';
import { awaitIdentification } from './await-identification.js';
import { BridgePorts } from './bridge-ports.js';
import { type CollectorConfig, defaultCollectorConfig, validateCollectorConfig } from './config.js';
import type { SessionDirectory, SessionHolder } from './directory.js';
import type { CollectorEvents } from './events.js';
import { ForwardListener } from './forward-listener.js';
import { ModemSession } from './modem-session.js';

export type CollectorOptions = {
  config: Partial<CollectorConfig> & Pick<CollectorConfig, 'nodeId' | 'modemListen' | 'portRange'>;
  store: ModemRegistryStore;
  /** Cluster mode: where other nodes find the modems this node holds. */
  directory?: SessionDirectory;
  clock?: Clock;
  logger?: Logger;
};

/**
 * The iRZ-Collector-style modem collector of one node: modems dial in and identify by IMEI,
 * each gets its fixed bridge port, and polling software on that port talks to the meter
 * behind the modem as if it were local.
 */
export class ModemCollector extends EventEmitter<CollectorEvents> {
  readonly config: CollectorConfig;
  readonly store: ModemRegistryStore;
  readonly directory: SessionDirectory | undefined;
  readonly clock: Clock;
  readonly log: Logger;
  private readonly sessions = new Map<string, ModemSession>();
  private readonly pending = new Set<Socket>();
  private modemServer: Server | null = null;
  private bridges!: BridgePorts;
  private forwarder: ForwardListener | null = null;
  private stopping = false;
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly chains = new Map<string, Promise<void>>();
  /** Connection state last announced per modem: disconnect and reconnect events always pair up. */
  private readonly lastKnown = new Map<string, 'online' | 'offline'>();

  constructor(options: CollectorOptions) {
    super();
    this.config = validateCollectorConfig({
      ...defaultCollectorConfig,
      ...options.config,
    } as CollectorConfig);
    this.store = options.store;
    this.directory = options.directory;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({
      component: 'modem-collector',
      nodeId: this.config.nodeId,
    });
  }

  /** The port modems dial (useful when configured as 0). */
  get modemPort(): number {
    const address = this.modemServer?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** host:port where other nodes forward polls to this node, when forwarding is on. */
  get forwardAddress(): string | undefined {
    return this.forwarder?.address;
  }

  sessionOf(imei: string): ModemSession | undefined {
    return this.sessions.get(imei);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    this.bridges = new BridgePorts(this);
    if (this.config.forwardListen && this.config.forwardSecret) {
      this.forwarder = new ForwardListener(this, this.config.forwardSecret);
      await this.forwarder.listen(this.config.forwardListen.host, this.config.forwardListen.port);
    }
    // Secure by default: an organization that was never configured admits loopback pollers only.
    if (!(await this.store.getOrganization(this.config.defaultOrganization))) {
      await this.store.putOrganization({
        id: this.config.defaultOrganization,
        name: this.config.defaultOrganization,
        allowedClients: ['127.0.0.0/8', '::1/128'],
      });
    }
    // Nobody holds a modem right after a (re)start: clear stale online flags of the last run.
    // Modems that were already offline before the restart count as offline, so their return is
    // a reconnect; those this node held when it stopped come back without a notification.
    for (const record of await this.store.list()) {
      if (record.online && !this.directory) await this.store.update(record.imei, { online: false });
      else if (!record.online && record.lastSeenMs !== undefined) this.lastKnown.set(record.imei, 'offline');
    }
    if (this.config.openBridgePorts === 'all-registered') await this.bridges.refresh();
    const server = createServer({ noDelay: true }, (socket) => this.onModemConnection(socket));
    server.maxConnections = this.config.maxModemSessions + this.config.maxPendingIdentifications;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.modemListen.port, this.config.modemListen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.modemServer = server;
    if (this.directory && this.config.openBridgePorts === 'all-registered') {
      this.refreshTimer = setInterval(() => {
        this.bridges.refresh().catch((err: unknown) => this.log.warn({ err }, 'bridge port refresh failed'));
      }, this.config.bridgeRefreshMs);
      this.refreshTimer.unref();
    }
    this.log.info({ modemPort: this.modemPort, forward: this.forwardAddress }, 'modem collector listening');
  }

  /** Opens bridge ports registered since the last call (cluster mode: registrations on other nodes). */
  refreshBridgePorts(): Promise<void> {
    return this.bridges.refresh();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    const closing = this.modemServer
      ? new Promise<void>((r) => this.modemServer!.close(() => r()))
      : Promise.resolve();
    for (const socket of this.pending) socket.destroy();
    const offline: Array<Promise<unknown>> = [];
    for (const session of this.sessions.values()) {
      session.close('collector stopping');
      offline.push(this.persistOffline(session, 'collector stopping'));
    }
    this.sessions.clear();
    await Promise.allSettled(offline);
    await this.bridges?.closeAll();
    await this.forwarder?.close();
    await closing;
  }

  private onModemConnection(socket: Socket): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.stopping || this.pending.size >= this.config.maxPendingIdentifications) {
      this.emit('modem-rejected', {
        remote,
        code: 'MF_MODEM_CAPACITY',
        message: 'too many unidentified connections',
      });
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.config.tcpKeepAliveMs);
    const reject = (error: ModemError) => {
      this.log.warn({ remote, code: error.code, err: error.message }, 'modem connection refused');
      this.emit('modem-rejected', { remote, code: error.code, message: error.message });
      socket.destroy();
    };
    const failed = (err: unknown) => {
      this.log.error({ err, remote }, 'modem session setup failed');
      socket.destroy();
    };
    awaitIdentification(socket, this.config.identification, this.config.identTimeoutMs, {
      settled: () => this.pending.delete(socket),
      rejected: reject,
      failed,
      identified: (id) => {
        void this.identified(socket, remote, id).catch((err: unknown) =>
          isMeterfabricError(err) ? reject(err as ModemError) : failed(err),
        );
      },
    });
    socket.on('error', () => socket.destroy());
  }

  private async identified(socket: Socket, remote: string, id: ModemIdentification): Promise<void> {
    const nowMs = this.clock.now();
    let record = await this.store.get(id.imei);
    let registered = false;
    if (!record) {
      if (this.config.unknownModems === 'refuse') {
        throw new ModemError(
          'MF_MODEM_UNKNOWN_REFUSED',
          `IMEI ${id.imei} is not in the registry and unknown modems are refused; import it first`,
          { imei: id.imei },
        );
      }
      const result = await this.store.register(
        id.imei,
        this.config.defaultOrganization,
        this.config.portRange,
        nowMs,
      );
      record = result.record;
      registered = result.created;
    }
    const patch = this.statusPatch(record, id, nowMs);
    if (id.type === 'status') {
      await this.inOrder(id.imei, async () => void (await this.store.update(id.imei, patch)));
      this.emit('modem-status', { imei: id.imei });
      socket.end();
      return;
    }
    if (socket.destroyed) return;
    const previous = this.sessions.get(id.imei);
    const known =
      this.lastKnown.get(id.imei) ??
      (this.directory && !record.online && record.lastSeenMs ? 'offline' : 'online');
    const wasOffline = known === 'offline' && !previous;
    this.lastKnown.set(id.imei, 'online');
    const session = new ModemSession(
      id.imei,
      socket,
      nowMs,
      this.config,
      {
        attached: (p) =>
          this.emit('poller-attached', {
            imei: id.imei,
            port: record!.port,
            remote: p.remote,
            forwarded: p.remote.startsWith('fwd:'),
          }),
        detached: (p) =>
          this.emit('poller-detached', { imei: id.imei, port: record!.port, remote: p.remote }),
        refused: (p, e) =>
          this.emit('poller-rejected', {
            port: record!.port,
            imei: id.imei,
            remote: p.remote,
            code: e.code,
            message: e.message,
          }),
      },
      () => this.clock.now(),
    );
    this.sessions.set(id.imei, session);
    if (previous) {
      // A modem that redials while its old connection still looks alive (NAT dropped it
      // silently): the new connection wins, the stale one is kicked.
      this.log.info({ imei: id.imei, remote }, 'modem redialled; replacing its stale session');
      this.emit('modem-replaced', {
        imei: id.imei,
        oldRemote: `${previous.socket.remoteAddress}:${previous.socket.remotePort}`,
        newRemote: remote,
      });
      previous.close('replaced by a new connection');
    } else if (this.sessions.size > this.config.maxModemSessions) {
      this.sessions.delete(id.imei);
      throw new ModemError('MF_MODEM_BUSY', `this node holds ${this.config.maxModemSessions} modems already`);
    }
    socket.setTimeout(this.config.idleTimeoutMs, () => {
      this.log.info({ imei: id.imei }, 'modem idle too long; closing');
      socket.destroy();
    });
    socket.once('close', () => void this.onModemClosed(session));
    socket.resume();
    await this.inOrder(id.imei, async () => {
      await this.store.update(id.imei, {
        ...patch,
        online: true,
        connectedSinceMs: nowMs,
        lastSeenMs: nowMs,
      });
    });
    await this.directory?.announce(id.imei, this.holderOf(session));
    await this.bridges.ensure(record.port, id.imei);
    this.log.info({ imei: id.imei, port: record.port, remote, registered }, 'modem online');
    this.emit('modem-online', { imei: id.imei, port: record.port, registered, remote });
    if (wasOffline) {
      this.emit('device-event', {
        deviceId: id.imei,
        deviceKind: 'modem',
        key: 'modem.reconnected',
        phase: 'occurred',
        timestampMs: nowMs,
        details: { port: String(record.port), remote },
      });
    }
  }

  /** Registry fields the identification reports, and a GPI change event when inputs moved. */
  private statusPatch(record: ModemRecord, id: ModemIdentification, nowMs: number): ModemPatch {
    const patch: ModemPatch = { lastSeenMs: nowMs };
    if (id.iccid !== undefined) patch.iccid = id.iccid;
    if (id.signalCsq !== undefined) patch.signalCsq = id.signalCsq;
    if (id.firmware !== undefined) patch.firmware = id.firmware;
    if (id.gpi !== undefined) {
      patch.gpi = id.gpi;
      const before = record.gpi;
      if (before && before.map(Number).join('') !== id.gpi.map(Number).join('')) {
        this.emit('device-event', {
          deviceId: id.imei,
          deviceKind: 'modem',
          key: 'modem.gpiChanged',
          phase: 'occurred',
          timestampMs: nowMs,
          details: { from: before.map(Number).join(''), to: id.gpi.map(Number).join('') },
        });
      }
    }
    return patch;
  }

  private async onModemClosed(session: ModemSession): Promise<void> {
    session.close('connection closed');
    const current = this.sessions.get(session.imei) === session;
    if (current) {
      this.sessions.delete(session.imei);
      if (this.stopping) return;
      // Announced at the moment of the drop, so it always precedes the reconnect of a redial.
      this.lastKnown.set(session.imei, 'offline');
      this.emit('device-event', {
        deviceId: session.imei,
        deviceKind: 'modem',
        key: 'modem.disconnected',
        phase: 'occurred',
        timestampMs: this.clock.now(),
        details: { reason: 'connection closed' },
      });
    }
    // A replaced session still adds its byte counters; the new session owns everything else.
    await this.persistOffline(session, 'connection closed').catch((err: unknown) =>
      this.log.error({ err, imei: session.imei }, 'could not record modem offline'),
    );
  }

  private holderOf(session: ModemSession): SessionHolder {
    return {
      nodeId: this.config.nodeId,
      forwardAddress: this.forwardAddress ?? '',
      sessionId: `${session.connectedAtMs}-${session.socket.remotePort ?? 0}`,
    };
  }

  /**
   * Registry writes of one modem run one after another, in the order their events happened: a
   * slow "offline" write of a dropped connection can never land after the "online" write of
   * the connection that replaced it.
   */
  private inOrder(imei: string, fn: () => Promise<void>): Promise<void> {
    const run = (this.chains.get(imei) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chains.set(imei, tail);
    void tail.then(() => {
      if (this.chains.get(imei) === tail) this.chains.delete(imei);
    });
    return run;
  }

  private persistOffline(session: ModemSession, reason: string): Promise<void> {
    if (session.persisted) return Promise.resolve();
    session.persisted = true;
    return this.inOrder(session.imei, () => this.writeOffline(session, reason));
  }

  private async writeOffline(session: ModemSession, reason: string): Promise<void> {
    const record = await this.store.get(session.imei);
    // The modem may have redialled while this ran: then its new session owns `online` and the
    // bridge port, and only the byte counters of the old connection are added here.
    const redialled = this.sessions.has(session.imei);
    const patch: ModemPatch = {
      bytesFromModem: (record?.bytesFromModem ?? 0) + session.bytesFromModem,
      bytesToModem: (record?.bytesToModem ?? 0) + session.bytesToModem,
    };
    if (!redialled) {
      patch.online = false;
      patch.lastSeenMs = session.lastActivityMs;
    }
    await this.store.update(session.imei, patch);
    await this.directory?.withdraw(session.imei, this.holderOf(session));
    if (redialled) return;
    if (this.config.openBridgePorts === 'while-online' && record) await this.bridges.release(record.port);
    this.log.info({ imei: session.imei, reason }, 'modem offline');
    this.emit('modem-offline', { imei: session.imei, reason });
  }
}
