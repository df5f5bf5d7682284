import { type Clock, systemClock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { type BackoffPolicy, backoffDelayMs, defaultBackoff } from './backoff.js';
import { type Cemi, type GroupPayload, groupTelegram } from './cemi.js';
import { isKnxError, KnxError } from './errors.js';
import { decodeFrame, encodeFrame } from './frame.js';
import { TunnelSession } from './tunnel-session.js';
import type { Endpoint, RequestOutcome, SessionAction, TunnelTimers } from './tunnel-types.js';
import { bindUdp, closeUdp, localAddressFor, type RemoteInfo, type Socket, sendUdp } from './udp.js';

/**
 * The I/O driver around TunnelSession: one UDP socket per tunnel, timers at the session's
 * deadlines, reconnection with backoff when the gateway drops the tunnel or has no free one.
 * Malformed datagrams are logged and dropped; they never close the tunnel.
 */

export type TunnelClientOptions = {
  gateway: Endpoint;
  /** Local address to bind; default: the address the OS routes to the gateway from. */
  localAddress?: string;
  /** Announce route-back HPAIs (behind NAT/Docker) instead of our address. */
  routeBack?: boolean;
  layer?: number;
  /** Tunnelling v2: ask the gateway for this individual address. */
  requestedAddress?: number;
  timers?: Partial<TunnelTimers>;
  maxQueueLength?: number;
  /** Rate limit for our requests (ACKs are never delayed by it). */
  maxRequestsPerSecond?: number;
  /** Reconnect after the tunnel drops (default on). */
  reconnect?: boolean;
  backoff?: Partial<BackoffPolicy>;
  clock?: Clock;
  logger?: Logger;
};

export type TunnelStatus = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export type TunnelListener = {
  telegram?: (cemi: Cemi) => void;
  status?: (status: TunnelStatus, error?: KnxError) => void;
  dropped?: (reason: string) => void;
};

export type TunnelStats = {
  received: number;
  dropped: number;
  malformed: number;
  reconnects: number;
};

export class TunnelClient {
  private socket: Socket | undefined;
  private session: TunnelSession | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<TunnelListener>();
  private readonly pending = new Map<
    number,
    { resolve: (o: RequestOutcome) => void; reject: (e: KnxError) => void }
  >();
  private connectWaiter: { resolve: () => void; reject: (e: KnxError) => void } | undefined;
  private reconnectAttempt = 0;
  private closedByUser = false;
  private statusValue: TunnelStatus = 'closed';
  private dataHost: string | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly backoff: BackoffPolicy;
  readonly stats: TunnelStats = { received: 0, dropped: 0, malformed: 0, reconnects: 0 };

  constructor(private readonly options: TunnelClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger).child({ component: 'knx-tunnel' });
    this.backoff = { ...defaultBackoff, ...options.backoff };
  }

  get status(): TunnelStatus {
    return this.statusValue;
  }
  get channelId(): number {
    return this.session?.channel ?? 0;
  }
  get individualAddress(): number {
    return this.session?.individualAddress ?? 0;
  }

  on(listener: TunnelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Opens the tunnel; rejects with a KnxError (e.g. MF_KNX_NO_MORE_CONNECTIONS) if the first
   * attempt fails. Once connected, losses are repaired by reconnecting. A client connects once:
   * after a failed first attempt, close() it and create a new one (KnxSite does this).
   */
  async connect(): Promise<void> {
    if (this.session) throw new KnxError('MF_KNX_CONFIG', 'TunnelClient.connect() called twice');
    this.closedByUser = false;
    const { gateway } = this.options;
    const host = this.options.localAddress ?? (await localAddressFor(gateway.host, gateway.port));
    const socket = await bindUdp(host, 0);
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    socket.on('error', (err) => this.logger.warn({ err }, 'KNX tunnel socket error'));
    const port = socket.address().port;
    this.session = new TunnelSession({
      gateway,
      localEndpoint: this.options.routeBack ? undefined : { host, port },
      layer: this.options.layer,
      requestedAddress: this.options.requestedAddress,
      timers: this.options.timers,
      maxQueueLength: this.options.maxQueueLength,
      maxRequestsPerSecond: this.options.maxRequestsPerSecond,
    });
    const connected = new Promise<void>((resolve, reject) => {
      this.connectWaiter = { resolve, reject };
    });
    this.setStatus('connecting');
    this.session.connect(this.clock.now());
    this.flush();
    return connected;
  }

  /** Sends a cEMI frame; resolves when ACKed (and, for L_Data.req, when its L_Data.con arrived). */
  request(cemi: Cemi, awaitConfirmation?: boolean): Promise<RequestOutcome> {
    const session = this.session;
    if (!session || this.closedByUser || this.statusValue === 'closed') {
      return Promise.reject(new KnxError('MF_KNX_NOT_CONNECTED', 'the tunnel is closed; connect() first'));
    }
    const id = session.request(cemi, this.clock.now(), awaitConfirmation);
    const promise = new Promise<RequestOutcome>((resolve, reject) =>
      this.pending.set(id, { resolve, reject }),
    );
    this.flush();
    return promise;
  }

  /** GroupValue_Write; resolves once the gateway confirmed it on the bus (throws on a negative L_Data.con). */
  async groupWrite(destination: number, payload: GroupPayload): Promise<void> {
    const outcome = await this.request(groupTelegram('GroupValue_Write', destination, payload));
    if (outcome.confirmation === 'negative') {
      throw new KnxError(
        'MF_KNX_NEGATIVE_CONFIRMATION',
        'the gateway reported the write as not sent on the bus (negative L_Data.con)',
        {
          destination,
        },
      );
    }
  }

  async groupRead(destination: number): Promise<void> {
    const outcome = await this.request(groupTelegram('GroupValue_Read', destination, undefined));
    if (outcome.confirmation === 'negative') {
      throw new KnxError(
        'MF_KNX_NEGATIVE_CONFIRMATION',
        'the gateway reported the read as not sent on the bus',
        {
          destination,
        },
      );
    }
  }

  /** Disconnects (DISCONNECT_REQUEST, waits briefly for the response) and closes the socket. */
  async close(): Promise<void> {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const session = this.session;
    if (session && session.state === 'connected') {
      const done = new Promise<void>((resolve) => {
        const off = this.on({
          status: (s) => {
            if (s !== 'closed') return;
            off();
            resolve();
          },
        });
      });
      session.disconnect(this.clock.now());
      this.flush();
      await done;
    } else if (session && session.state !== 'closed') {
      session.disconnect(this.clock.now());
      this.flush();
    }
    this.setStatus('closed');
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [, p] of this.pending) p.reject(new KnxError('MF_KNX_TUNNEL_CLOSED', 'tunnel closed'));
    this.pending.clear();
    if (this.socket) await closeUdp(this.socket);
    this.socket = undefined;
    this.session = undefined;
  }

  /**
   * Only the gateway may talk to the tunnel: datagrams from other hosts are dropped before
   * decoding (enforced when the gateway is given as an IPv4 address, not a host name).
   */
  private fromGateway(host: string): boolean {
    const gatewayHost = this.options.gateway.host;
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(gatewayHost)) return true;
    return host === gatewayHost || host === this.dataHost;
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const session = this.session;
    if (!session) return;
    if (!this.fromGateway(rinfo.address)) {
      this.stats.dropped++;
      this.emitDropped(`datagram from ${rinfo.address}:${rinfo.port}, which is not the gateway`);
      return;
    }
    let frame: ReturnType<typeof decodeFrame>;
    try {
      frame = decodeFrame(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch (err) {
      this.stats.malformed++;
      const reason = isKnxError(err) ? `${err.code}: ${err.message}` : String(err);
      this.logger.warn(
        { from: `${rinfo.address}:${rinfo.port}`, reason },
        'dropped malformed KNXnet/IP datagram',
      );
      this.emitDropped(reason);
      return;
    }
    this.stats.received++;
    session.receive(frame, this.clock.now());
    this.flush();
  }

  private emitDropped(reason: string): void {
    for (const l of this.listeners) l.dropped?.(reason);
  }

  private setStatus(status: TunnelStatus, error?: KnxError): void {
    this.statusValue = status;
    for (const l of this.listeners) l.status?.(status, error);
  }

  /** Performs the session's actions and re-arms the timer at its next deadline. */
  private flush(): void {
    const session = this.session;
    if (!session) return;
    for (const action of session.takeActions()) this.perform(action);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const deadline = session.nextDeadlineMs();
    if (deadline !== undefined) {
      const delayMs = Math.max(0, deadline - this.clock.now());
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.session?.tick(this.clock.now());
        this.flush();
      }, delayMs);
    }
  }

  private perform(action: SessionAction): void {
    switch (action.type) {
      case 'send':
        if (this.socket) {
          sendUdp(this.socket, encodeFrame(action.frame), action.to.host, action.to.port).catch(
            (err: unknown) => this.logger.warn({ err }, 'KNX send failed'),
          );
        }
        return;
      case 'connected':
        this.dataHost = action.dataEndpoint.host;
        this.reconnectAttempt = 0;
        this.logger.info({ channelId: action.channelId }, 'KNX tunnel connected');
        this.setStatus('connected');
        this.connectWaiter?.resolve();
        this.connectWaiter = undefined;
        return;
      case 'telegram':
        for (const l of this.listeners) l.telegram?.(action.cemi);
        return;
      case 'request-done':
        this.pending.get(action.id)?.resolve(action.outcome);
        this.pending.delete(action.id);
        return;
      case 'request-failed':
        this.pending.get(action.id)?.reject(action.error);
        this.pending.delete(action.id);
        return;
      case 'dropped':
        this.stats.dropped++;
        this.logger.debug({ reason: action.reason }, 'KNX frame dropped');
        this.emitDropped(action.reason);
        return;
      case 'closed':
        this.onClosed(action.error, action.reconnect);
        return;
    }
  }

  private onClosed(error: KnxError, reconnect: boolean): void {
    if (this.connectWaiter) {
      // The first connect failed: report it to the caller instead of retrying silently.
      this.connectWaiter.reject(error);
      this.connectWaiter = undefined;
      this.setStatus('closed', error);
      return;
    }
    if (this.closedByUser || !reconnect || this.options.reconnect === false) {
      this.setStatus('closed', error);
      return;
    }
    const delayMs = backoffDelayMs(
      this.reconnectAttempt++,
      this.backoff,
      error.code === 'MF_KNX_NO_MORE_CONNECTIONS',
    );
    this.logger.warn({ code: error.code, reason: error.message, delayMs }, 'KNX tunnel lost; reconnecting');
    this.setStatus('reconnecting', error);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closedByUser || !this.session) return;
      this.stats.reconnects++;
      this.session.connect(this.clock.now());
      this.flush();
    }, delayMs);
  }
}
