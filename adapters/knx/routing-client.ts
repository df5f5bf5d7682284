import { type Clock, systemClock } from '../../core/clock.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import type { Cemi, GroupPayload, LDataFrame } from './cemi.js';
import { groupTelegram } from './cemi.js';
import { CemiMessageCode, KNX_MULTICAST_ADDRESS, KNX_PORT } from './constants.js';
import { isKnxError, KnxError } from './errors.js';
import { decodeFrame, encodeFrame } from './frame.js';
import { RoutingFlowControl } from './routing-flow.js';
import { bindUdp, closeUdp, type Socket, sendUdp } from './udp.js';

/**
 * KNXnet/IP routing (multicast) client: receives ROUTING_INDICATIONs from the group, sends ours
 * through a bounded queue paced by RoutingFlowControl (ROUTING_BUSY and the rate limit).
 * ROUTING_LOST_MESSAGE is counted and logged; it never stops reception. Sends come from a
 * separate ephemeral socket so that our own datagrams (and our own ROUTING_BUSY) are recognised.
 */

export type RoutingClientOptions = {
  interfaceAddress: string;
  group?: string;
  port?: number;
  maxPerSecond?: number;
  maxQueueLength?: number;
  ttl?: number;
  individualAddress?: number;
  clock?: Clock;
  logger?: Logger;
};

export type RoutingListener = { telegram?: (cemi: Cemi) => void; busy?: (waitTimeMs: number) => void };

export class RoutingClient {
  private receiveSocket: Socket | undefined;
  private sendSocket: Socket | undefined;
  private readonly queue: { bytes: Uint8Array; resolve: () => void; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly flow: RoutingFlowControl;
  private readonly listeners = new Set<RoutingListener>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  readonly stats = { received: 0, sent: 0, busy: 0, lostMessages: 0, malformed: 0 };

  constructor(private readonly options: RoutingClientOptions) {
    this.flow = new RoutingFlowControl({ maxPerSecond: options.maxPerSecond });
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger).child({ component: 'knx-routing' });
  }

  private get group(): string {
    return this.options.group ?? KNX_MULTICAST_ADDRESS;
  }
  private get port(): number {
    return this.options.port ?? KNX_PORT;
  }

  on(listener: RoutingListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async open(): Promise<void> {
    const { interfaceAddress } = this.options;
    // Bound to the group address: this socket receives the group's traffic only, not unicast.
    const rs = await bindUdp(this.group, this.port, true);
    rs.addMembership(this.group, interfaceAddress);
    this.receiveSocket = rs;
    const ss = await bindUdp(interfaceAddress, 0);
    ss.setMulticastInterface(interfaceAddress);
    ss.setMulticastTTL(this.options.ttl ?? 16);
    ss.setMulticastLoopback(true);
    this.sendSocket = ss;
    rs.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port));
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const q of this.queue.splice(0))
      q.reject(new KnxError('MF_KNX_NOT_CONNECTED', 'routing client closed'));
    if (this.receiveSocket) await closeUdp(this.receiveSocket);
    if (this.sendSocket) await closeUdp(this.sendSocket);
    this.receiveSocket = undefined;
    this.sendSocket = undefined;
  }

  /** Queues an indication; resolves when it has been sent (after any busy wait and pacing). */
  send(cemi: LDataFrame): Promise<void> {
    if (!this.sendSocket)
      return Promise.reject(new KnxError('MF_KNX_NOT_CONNECTED', 'routing client not open'));
    const max = this.options.maxQueueLength ?? 256;
    if (this.queue.length >= max) {
      return Promise.reject(
        new KnxError(
          'MF_KNX_QUEUE_FULL',
          `routing send queue is full (${max}); the KNX line is busy, slow down`,
        ),
      );
    }
    const bytes = encodeFrame({
      service: 'ROUTING_INDICATION',
      cemi: { ...cemi, messageCode: CemiMessageCode.L_DATA_IND },
    });
    const promise = new Promise<void>((resolve, reject) => this.queue.push({ bytes, resolve, reject }));
    this.pump();
    return promise;
  }

  groupWrite(destination: number, payload: GroupPayload): Promise<void> {
    return this.send(
      groupTelegram('GroupValue_Write', destination, payload, { source: this.options.individualAddress }),
    );
  }

  private pump(): void {
    if (this.timer || !this.sendSocket) return;
    const nowMs = this.clock.now();
    const atMs = this.flow.nextSendAtMs(nowMs);
    if (this.queue.length === 0) return;
    if (atMs > nowMs) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, atMs - nowMs);
      return;
    }
    const next = this.queue.shift()!;
    this.flow.sent(nowMs);
    this.stats.sent++;
    sendUdp(this.sendSocket, next.bytes, this.group, this.port).then(next.resolve, next.reject);
    if (this.queue.length > 0) this.pump();
  }

  private onDatagram(msg: Buffer, host: string, port: number): void {
    const own = this.sendSocket?.address();
    if (own && own.port === port && own.address === host) return; // our own multicast, looped back
    let frame: ReturnType<typeof decodeFrame>;
    try {
      frame = decodeFrame(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch (err) {
      this.stats.malformed++;
      this.logger.warn(
        { reason: isKnxError(err) ? err.message : String(err) },
        'dropped malformed routing datagram',
      );
      return;
    }
    if (frame.service === 'ROUTING_INDICATION') {
      this.stats.received++;
      for (const l of this.listeners) l.telegram?.(frame.cemi);
    } else if (frame.service === 'ROUTING_BUSY') {
      this.stats.busy++;
      this.flow.onBusy(frame.waitTimeMs, this.clock.now());
      for (const l of this.listeners) l.busy?.(frame.waitTimeMs);
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      this.pump();
    } else if (frame.service === 'ROUTING_LOST_MESSAGE') {
      this.stats.lostMessages += frame.lostMessages;
      this.logger.warn({ lost: frame.lostMessages }, 'router reported lost messages');
    }
  }
}
