import { type Clock, systemClock } from '../../../core/clock.js';
import { type Logger, silentLogger } from '../../../core/logger.js';
import { parseIndividualAddress } from '../address.js';
import type { LDataFrame } from '../cemi.js';
import { CemiMessageCode, KNX_MULTICAST_ADDRESS } from '../constants.js';
import { isKnxError } from '../errors.js';
import { decodeFrame, encodeFrame, type KnxFrame } from '../frame.js';
import type { Endpoint } from '../tunnel-types.js';
import { bindUdp, closeUdp, type Socket, sendUdp } from '../udp.js';
import { GatewayServerCore, type ServerAction } from './server-core.js';
import { SimulatedBus, type SimulatedMeterConfig } from './simulated-bus.js';

/**
 * A KNXnet/IP gateway simulator for demos and tests: a tunnelling server on a configurable
 * address and port (and optionally a router on a multicast group) in front of a simulated bus
 * of metering devices. Real clients work against it: our TunnelClient, and knxd as a tunnel
 * client (`-b ipt:127.0.0.1:<port>`).
 */

export type GatewaySimulatorOptions = {
  host?: string;
  /** 0 = pick a free port. */
  port?: number;
  individualAddress?: string;
  /** Number of concurrent tunnels (addresses x.y.241...). */
  tunnels?: number;
  meters?: SimulatedMeterConfig[];
  /** Meters send their values every this many ms (0 = only on read). */
  cyclicIntervalMs?: number;
  aliveTimeMs?: number;
  friendlyName?: string;
  /** Act as a KNXnet/IP router too: multicast ROUTING_INDICATIONs on this group and port. */
  routing?: { group?: string; port: number; interfaceAddress: string };
  clock?: Clock;
  /**
   * Time of the simulated meters' values (default: clock). A fleet on a simulated clock sets
   * it while the tunnelling server's heartbeats and repeats keep real time.
   */
  busClock?: Clock;
  logger?: Logger;
};

export class GatewaySimulator {
  private socket: Socket | undefined;
  private routingSocket: Socket | undefined;
  private routingSendSocket: Socket | undefined;
  private core: GatewayServerCore | undefined;
  readonly bus: SimulatedBus;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: Clock;
  private readonly busClock: Clock;
  private readonly logger: Logger;
  private endpoint: Endpoint | undefined;
  readonly stats = { received: 0, malformed: 0, dropped: 0, routed: 0 };

  constructor(private readonly options: GatewaySimulatorOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.busClock = options.busClock ?? this.clock;
    this.logger = (options.logger ?? silentLogger).child({ component: 'knx-gateway-sim' });
    this.bus = new SimulatedBus(options.meters ?? [], this.busClock.now(), options.cyclicIntervalMs ?? 0);
  }

  get address(): Endpoint {
    if (!this.endpoint) throw new Error('GatewaySimulator not started');
    return this.endpoint;
  }

  get connectionCount(): number {
    return this.core?.connectionCount ?? 0;
  }

  async start(): Promise<Endpoint> {
    const host = this.options.host ?? '127.0.0.1';
    const socket = await bindUdp(host, this.options.port ?? 0);
    this.socket = socket;
    this.endpoint = { host, port: socket.address().port };
    const ia = parseIndividualAddress(this.options.individualAddress ?? '1.1.240');
    const tunnels = this.options.tunnels ?? 4;
    this.core = new GatewayServerCore({
      control: this.endpoint,
      individualAddress: ia,
      tunnelAddresses: Array.from({ length: tunnels }, (_, i) => (ia & 0xff00) | ((ia & 0xff) + 1 + i)),
      friendlyName: this.options.friendlyName ?? 'meterfabric KNX sim',
      serialNumber: '00fa00000001',
      macAddress: '02:00:00:00:00:01',
      routing: this.options.routing !== undefined,
      aliveTimeMs: this.options.aliveTimeMs,
    });
    socket.on('message', (msg, rinfo) =>
      this.onDatagram(msg, { host: rinfo.address, port: rinfo.port }, false),
    );
    const routing = this.options.routing;
    if (routing) {
      const group = routing.group ?? KNX_MULTICAST_ADDRESS;
      const rs = await bindUdp(group, routing.port, true); // group traffic only
      rs.addMembership(group, routing.interfaceAddress);
      // Send from a separate ephemeral socket so our own looped-back datagrams are recognisable.
      const ss = await bindUdp(routing.interfaceAddress, 0);
      ss.setMulticastInterface(routing.interfaceAddress);
      ss.setMulticastLoopback(true);
      this.routingSendSocket = ss;
      rs.on('message', (msg, rinfo) => this.onDatagram(msg, { host: rinfo.address, port: rinfo.port }, true));
      this.routingSocket = rs;
    }
    this.schedule();
    return this.endpoint;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.socket) await closeUdp(this.socket);
    if (this.routingSocket) await closeUdp(this.routingSocket);
    if (this.routingSendSocket) await closeUdp(this.routingSendSocket);
    this.socket = undefined;
    this.routingSocket = undefined;
    this.routingSendSocket = undefined;
  }

  /** Puts a telegram on the simulated bus as if a device had sent it. */
  inject(telegram: LDataFrame): void {
    this.onBusTelegram(telegram, undefined);
    this.flush();
  }

  private onDatagram(msg: Buffer, from: Endpoint, viaRouting: boolean): void {
    const core = this.core;
    if (!core) return;
    let frame: KnxFrame;
    try {
      frame = decodeFrame(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch (err) {
      this.stats.malformed++;
      this.logger.warn(
        { from, reason: isKnxError(err) ? err.message : String(err) },
        'dropped malformed datagram',
      );
      return;
    }
    this.stats.received++;
    if (viaRouting) {
      if (this.isOwnRoutingDatagram(from)) return;
      // Routers answer multicast discovery; the response goes unicast from the control endpoint.
      if (frame.service === 'SEARCH_REQUEST') {
        core.receive(frame, from, this.clock.now());
        this.flush();
        return;
      }
      if (frame.service === 'ROUTING_INDICATION' && frame.cemi.kind === 'ldata') {
        this.onBusTelegram({ ...frame.cemi, messageCode: CemiMessageCode.L_DATA_IND }, undefined, true);
        this.flush();
      }
      return;
    }
    core.receive(frame, from, this.clock.now());
    this.flush();
  }

  private isOwnRoutingDatagram(from: Endpoint): boolean {
    const own = this.routingSendSocket?.address();
    return (
      own !== undefined && from.port === own.port && from.host === this.options.routing?.interfaceAddress
    );
  }

  private onBusTelegram(telegram: LDataFrame, fromChannel: number | undefined, fromRouting = false): void {
    const core = this.core!;
    const nowMs = this.clock.now();
    core.publish(telegram, nowMs, fromChannel);
    if (!fromRouting) this.route(telegram);
    for (const answer of this.bus.handle(telegram, this.busClock.now())) {
      core.publish(answer, nowMs);
      this.route(answer);
    }
  }

  /** Multicasts a ROUTING_BUSY (as an overloaded router would) so clients must pause. */
  async sendRoutingBusy(waitTimeMs: number): Promise<void> {
    const ss = this.routingSendSocket;
    const routing = this.options.routing;
    if (!ss || !routing) throw new Error('routing is not enabled on this simulator');
    const bytes = encodeFrame({ service: 'ROUTING_BUSY', deviceState: 0, waitTimeMs, control: 0 });
    await sendUdp(ss, bytes, routing.group ?? KNX_MULTICAST_ADDRESS, routing.port);
  }

  private route(telegram: LDataFrame): void {
    const rs = this.routingSendSocket;
    const routing = this.options.routing;
    if (!rs || !routing) return;
    this.stats.routed++;
    const bytes = encodeFrame({ service: 'ROUTING_INDICATION', cemi: telegram });
    sendUdp(rs, bytes, routing.group ?? KNX_MULTICAST_ADDRESS, routing.port).catch((err: unknown) =>
      this.logger.warn({ err }, 'routing send failed'),
    );
  }

  private perform(action: ServerAction): void {
    if (action.type === 'send') {
      if (this.socket) {
        sendUdp(this.socket, encodeFrame(action.frame), action.to.host, action.to.port).catch(
          (err: unknown) => this.logger.warn({ err }, 'send failed'),
        );
      }
    } else if (action.type === 'bus') {
      this.onBusTelegram(action.telegram, action.fromChannel);
    } else if (action.type === 'dropped') {
      this.stats.dropped++;
      this.logger.debug({ reason: action.reason }, 'dropped');
    } else {
      this.logger.info({ channelId: action.channelId, event: action.event, reason: action.reason }, 'tunnel');
    }
  }

  private flush(): void {
    const core = this.core;
    if (!core) return;
    // Bus actions can produce more actions (answers to reads); drain until quiet.
    for (let actions = core.takeActions(); actions.length > 0; actions = core.takeActions()) {
      for (const action of actions) this.perform(action);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.socket) return;
    // Server deadlines are in the server's time, cyclic sends in the bus's.
    const serverDeadline = this.core?.nextDeadlineMs();
    const busDeadline = this.bus.nextDeadlineMs();
    const delays = [
      serverDeadline === undefined ? undefined : serverDeadline - this.clock.now(),
      busDeadline === undefined ? undefined : busDeadline - this.busClock.now(),
    ].filter((d): d is number => d !== undefined);
    if (delays.length === 0) return;
    const delayMs = Math.max(0, Math.min(...delays));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.core?.tick(this.clock.now());
      for (const t of this.bus.tick(this.busClock.now())) this.onBusTelegram(t, undefined);
      this.flush();
    }, delayMs);
    this.timer.unref();
  }
}
