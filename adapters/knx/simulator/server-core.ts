import type { Cemi, LDataFrame } from '../cemi.js';
import { CemiMessageCode, ErrorCode, KnxMedium, ServiceFamily, TunnelLayer } from '../constants.js';
import type { KnxFrame } from '../frame.js';
import { classifyIncoming, nextSequence, OutboundWindow } from '../sequence.js';
import { type Dib, type Hpai, isRouteBack } from '../structures.js';
import type { Endpoint } from '../tunnel-types.js';

/**
 * The server side of KNXnet/IP tunnelling, as a pure state machine for the gateway simulator:
 * search/description answers, a bounded pool of tunnels (E_NO_MORE_CONNECTIONS when full),
 * per-connection sequence counters, ACK with one repeat for what we send, L_Data.con for each
 * client L_Data.req, and dropping clients that stay silent past the alive time.
 */

export type ServerCoreOptions = {
  control: Endpoint;
  individualAddress: number;
  /** One tunnel per address; their count is the number of concurrent tunnels. */
  tunnelAddresses: number[];
  friendlyName: string;
  serialNumber: string;
  macAddress: string;
  routing: boolean;
  aliveTimeMs?: number;
  ackTimeoutMs?: number;
  maxQueuedPerConnection?: number;
};

export type ServerAction =
  | { type: 'send'; to: Endpoint; frame: KnxFrame }
  /** A client put this telegram on the bus (already converted to an L_Data.ind with its source). */
  | { type: 'bus'; telegram: LDataFrame; fromChannel: number }
  | { type: 'connection'; channelId: number; event: 'opened' | 'closed'; reason?: string }
  | { type: 'dropped'; reason: string };

type Connection = {
  channelId: number;
  control: Endpoint;
  data: Endpoint;
  individualAddress: number;
  inboundExpected: number;
  window: OutboundWindow<Cemi>;
  queue: Cemi[];
  lastSeenMs: number;
};

function endpointOf(hpai: Hpai, from: Endpoint): Endpoint {
  return isRouteBack(hpai) || hpai.ip === '0.0.0.0' ? from : { host: hpai.ip, port: hpai.port };
}

export class GatewayServerCore {
  private readonly connections = new Map<number, Connection>();
  private actions: ServerAction[] = [];
  private nextChannel = 1;
  private readonly aliveTimeMs: number;
  private readonly ackTimeoutMs: number;
  private readonly maxQueued: number;

  constructor(private readonly options: ServerCoreOptions) {
    this.aliveTimeMs = options.aliveTimeMs ?? 120_000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 1_000;
    this.maxQueued = options.maxQueuedPerConnection ?? 256;
  }

  /**
   * The connection a channel-addressed frame belongs to, only if it comes from the host that
   * opened it (its control or data endpoint): the channel id is one guessable octet, and
   * without this any host that can reach the port could inject telegrams into, keep alive or
   * disconnect someone else's tunnel. Frames from other hosts are treated as an unknown channel.
   */
  private connectionFrom(channelId: number, from: Endpoint): Connection | undefined {
    const c = this.connections.get(channelId);
    return c && (from.host === c.control.host || from.host === c.data.host) ? c : undefined;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  takeActions(): ServerAction[] {
    const out = this.actions;
    this.actions = [];
    return out;
  }

  private send(to: Endpoint, frame: KnxFrame): void {
    this.actions.push({ type: 'send', to, frame });
  }

  dibs(): Dib[] {
    const families = [
      { family: ServiceFamily.CORE, version: 1 },
      { family: ServiceFamily.DEVICE_MGMT, version: 1 },
      { family: ServiceFamily.TUNNELLING, version: 1 },
      ...(this.options.routing ? [{ family: ServiceFamily.ROUTING, version: 1 }] : []),
    ];
    return [
      {
        type: 'deviceInfo',
        medium: KnxMedium.TP1,
        programmingMode: false,
        deviceStatus: 0,
        individualAddress: this.options.individualAddress,
        projectInstallationId: 0,
        serialNumber: this.options.serialNumber,
        multicastAddress: '224.0.23.12',
        macAddress: this.options.macAddress,
        friendlyName: this.options.friendlyName,
      },
      { type: 'supportedServices', families },
    ];
  }

  private controlHpai(): Hpai {
    return { protocol: 'udp', ip: this.options.control.host, port: this.options.control.port };
  }

  receive(frame: KnxFrame, from: Endpoint, nowMs: number): void {
    switch (frame.service) {
      case 'SEARCH_REQUEST':
        this.send(endpointOf(frame.discovery, from), {
          service: 'SEARCH_RESPONSE',
          control: this.controlHpai(),
          dibs: this.dibs(),
        });
        return;
      case 'DESCRIPTION_REQUEST':
        this.send(endpointOf(frame.control, from), { service: 'DESCRIPTION_RESPONSE', dibs: this.dibs() });
        return;
      case 'CONNECT_REQUEST':
        this.onConnect(frame, from, nowMs);
        return;
      case 'CONNECTIONSTATE_REQUEST': {
        const c = this.connectionFrom(frame.channelId, from);
        if (c) c.lastSeenMs = nowMs;
        this.send(endpointOf(frame.control, from), {
          service: 'CONNECTIONSTATE_RESPONSE',
          channelId: frame.channelId,
          status: c ? ErrorCode.E_NO_ERROR : ErrorCode.E_CONNECTION_ID,
        });
        return;
      }
      case 'DISCONNECT_REQUEST': {
        const c = this.connectionFrom(frame.channelId, from);
        this.send(endpointOf(frame.control, from), {
          service: 'DISCONNECT_RESPONSE',
          channelId: frame.channelId,
          status: c ? ErrorCode.E_NO_ERROR : ErrorCode.E_CONNECTION_ID,
        });
        if (c) this.remove(c, 'client disconnected');
        return;
      }
      case 'DISCONNECT_RESPONSE':
        return;
      case 'TUNNELLING_REQUEST':
        this.onTunnellingRequest(frame, from, nowMs);
        return;
      case 'TUNNELLING_ACK': {
        const c = this.connectionFrom(frame.channelId, from);
        if (!c) {
          this.actions.push({
            type: 'dropped',
            reason: `ACK for channel ${frame.channelId}, not open from ${from.host}`,
          });
          return;
        }
        c.lastSeenMs = nowMs;
        if (c.window.acknowledge(frame.sequence) === undefined) {
          this.actions.push({
            type: 'dropped',
            reason: `ACK seq ${frame.sequence} matches nothing outstanding`,
          });
        }
        this.pump(c, nowMs);
        return;
      }
      default:
        this.actions.push({
          type: 'dropped',
          reason: `${frame.service} is not handled by the tunnelling server`,
        });
    }
  }

  private onConnect(
    frame: Extract<KnxFrame, { service: 'CONNECT_REQUEST' }>,
    from: Endpoint,
    nowMs: number,
  ): void {
    const replyTo = endpointOf(frame.control, from);
    const reject = (status: number): void =>
      this.send(replyTo, { service: 'CONNECT_RESPONSE', channelId: 0, status });
    if (frame.cri.connectionType !== 'tunnel') {
      reject(ErrorCode.E_CONNECTION_TYPE);
      return;
    }
    if (frame.cri.layer !== TunnelLayer.LINK) {
      reject(ErrorCode.E_TUNNELLING_LAYER);
      return;
    }
    const used = new Set([...this.connections.values()].map((c) => c.individualAddress));
    const address = this.options.tunnelAddresses.find((a) => !used.has(a));
    if (address === undefined) {
      reject(ErrorCode.E_NO_MORE_CONNECTIONS);
      return;
    }
    let channelId = this.nextChannel;
    while (this.connections.has(channelId)) channelId = (channelId % 255) + 1;
    this.nextChannel = (channelId % 255) + 1;
    const connection: Connection = {
      channelId,
      control: replyTo,
      data: endpointOf(frame.data, from),
      individualAddress: address,
      inboundExpected: 0,
      window: new OutboundWindow<Cemi>(this.ackTimeoutMs),
      queue: [],
      lastSeenMs: nowMs,
    };
    this.connections.set(channelId, connection);
    this.send(replyTo, {
      service: 'CONNECT_RESPONSE',
      channelId,
      status: ErrorCode.E_NO_ERROR,
      data: this.controlHpai(),
      crd: { connectionType: 'tunnel', individualAddress: address },
    });
    this.actions.push({ type: 'connection', channelId, event: 'opened' });
  }

  private onTunnellingRequest(
    frame: Extract<KnxFrame, { service: 'TUNNELLING_REQUEST' }>,
    from: Endpoint,
    nowMs: number,
  ): void {
    const c = this.connectionFrom(frame.channelId, from);
    if (!c) {
      this.actions.push({
        type: 'dropped',
        reason: `TUNNELLING_REQUEST for channel ${frame.channelId}, not open from ${from.host}`,
      });
      return;
    }
    c.lastSeenMs = nowMs;
    const verdict = classifyIncoming(c.inboundExpected, frame.sequence);
    if (verdict === 'discard') {
      this.actions.push({ type: 'dropped', reason: `seq ${frame.sequence}, expected ${c.inboundExpected}` });
      return;
    }
    this.send(c.data, {
      service: 'TUNNELLING_ACK',
      channelId: c.channelId,
      sequence: frame.sequence,
      status: 0,
    });
    if (verdict === 'duplicate') return;
    c.inboundExpected = nextSequence(c.inboundExpected);
    const cemi = frame.cemi;
    if (cemi.kind !== 'ldata' || cemi.messageCode !== CemiMessageCode.L_DATA_REQ) {
      this.actions.push({
        type: 'dropped',
        reason: `cEMI 0x${cemi.messageCode.toString(16)} is not an L_Data.req`,
      });
      return;
    }
    // Servers fill in the tunnel's address when the client leaves the source as 0.0.0.
    const source = cemi.source === 0 ? c.individualAddress : cemi.source;
    const confirmation: LDataFrame = {
      ...cemi,
      messageCode: CemiMessageCode.L_DATA_CON,
      source,
      confirmError: false,
    };
    this.enqueue(c, confirmation, nowMs);
    const telegram: LDataFrame = { ...cemi, messageCode: CemiMessageCode.L_DATA_IND, source };
    this.actions.push({ type: 'bus', telegram, fromChannel: c.channelId });
  }

  /** Delivers a bus telegram (L_Data.ind) to every tunnel except `exceptChannel`. */
  publish(telegram: LDataFrame, nowMs: number, exceptChannel?: number): void {
    for (const c of this.connections.values()) {
      if (c.channelId !== exceptChannel) this.enqueue(c, telegram, nowMs);
    }
  }

  private enqueue(c: Connection, cemi: Cemi, nowMs: number): void {
    if (c.queue.length >= this.maxQueued) {
      this.actions.push({ type: 'dropped', reason: `channel ${c.channelId} queue full; telegram dropped` });
      return;
    }
    c.queue.push(cemi);
    this.pump(c, nowMs);
  }

  private pump(c: Connection, nowMs: number): void {
    if (c.window.busy) return;
    const next = c.queue.shift();
    if (!next) return;
    const sequence = c.window.start(next, nowMs);
    this.send(c.data, { service: 'TUNNELLING_REQUEST', channelId: c.channelId, sequence, cemi: next });
  }

  private remove(c: Connection, reason: string, notify = false): void {
    if (notify)
      this.send(c.control, {
        service: 'DISCONNECT_REQUEST',
        channelId: c.channelId,
        control: this.controlHpai(),
      });
    this.connections.delete(c.channelId);
    this.actions.push({ type: 'connection', channelId: c.channelId, event: 'closed', reason });
  }

  tick(nowMs: number): void {
    for (const c of [...this.connections.values()]) {
      if (nowMs - c.lastSeenMs >= this.aliveTimeMs) {
        this.remove(c, 'no heartbeat within the alive time', true);
        continue;
      }
      const step = c.window.onTime(nowMs);
      if (step.action === 'repeat') {
        this.send(c.data, {
          service: 'TUNNELLING_REQUEST',
          channelId: c.channelId,
          sequence: step.sequence,
          cemi: step.item,
        });
      } else if (step.action === 'give-up') {
        this.remove(c, 'client did not ACK a request and its repeat', true);
      }
    }
  }

  nextDeadlineMs(): number | undefined {
    let next: number | undefined;
    for (const c of this.connections.values()) {
      for (const t of [c.window.deadlineMs, c.lastSeenMs + this.aliveTimeMs]) {
        if (t !== undefined && (next === undefined || t < next)) next = t;
      }
    }
    return next;
  }
}
