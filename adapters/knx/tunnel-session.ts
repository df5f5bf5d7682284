import type { Cemi } from './cemi.js';
import { CemiMessageCode, ErrorCode, errorName, TunnelLayer } from './constants.js';
import { KnxError } from './errors.js';
import type { FrameOf, KnxFrame } from './frame.js';
import { RequestTracker, type TrackedRequest } from './request-tracker.js';
import { classifyIncoming, nextSequence, OutboundWindow } from './sequence.js';
import { type Hpai, isRouteBack, ROUTE_BACK_HPAI } from './structures.js';
import {
  defaultTunnelTimers,
  type Endpoint,
  type SessionAction,
  type SessionState,
  type TunnelSessionOptions,
  type TunnelTimers,
} from './tunnel-types.js';

/**
 * The client side of one KNXnet/IP tunnelling connection as a pure state machine (the etcd-raft
 * style: inputs are frames, calls and the current time; outputs are actions the driver
 * performs). No sockets, no timers: the driver calls `tick(now)` at `nextDeadlineMs()`.
 *
 * Rules (reference §1.5): per-direction sequence counters; incoming requests are ACKed at once
 * (ACKs are emitted by `receive`, never queued behind outgoing requests or a rate limit);
 * duplicates are ACKed again without being delivered twice; other sequence numbers are dropped
 * without ACK; our requests are repeated exactly once after the ACK timeout, then the tunnel is
 * disconnected; CONNECTIONSTATE heartbeats with up to 4 attempts; L_Data.con matched to our
 * L_Data.req.
 */

const DEFAULT_MAX_QUEUE = 256;

export class TunnelSession {
  private readonly timers: TunnelTimers;
  private stateValue: SessionState = 'idle';
  private channelId = 0;
  private dataEndpoint: Endpoint;
  private individualAddressValue = 0;
  private inboundExpected = 0;
  private readonly window: OutboundWindow<TrackedRequest>;
  private readonly requests: RequestTracker;
  private stateDeadlineMs: number | undefined;
  private nextHeartbeatMs: number | undefined;
  private heartbeat: { attempt: number; deadlineMs: number } | undefined;
  private actions: SessionAction[] = [];
  private readonly minRequestIntervalMs: number;
  private nextRequestAllowedMs = 0;

  constructor(private readonly options: TunnelSessionOptions) {
    this.timers = { ...defaultTunnelTimers, ...options.timers };
    this.window = new OutboundWindow<TrackedRequest>(this.timers.ackTimeoutMs);
    this.requests = new RequestTracker(
      options.maxQueueLength ?? DEFAULT_MAX_QUEUE,
      this.timers.confirmationTimeoutMs,
      this.actions,
    );
    this.dataEndpoint = options.gateway;
    this.minRequestIntervalMs = options.maxRequestsPerSecond ? 1000 / options.maxRequestsPerSecond : 0;
  }

  get state(): SessionState {
    return this.stateValue;
  }
  get channel(): number {
    return this.channelId;
  }
  get individualAddress(): number {
    return this.individualAddressValue;
  }
  get queueLength(): number {
    return this.requests.queued;
  }

  /** Drains the actions produced so far. */
  takeActions(): SessionAction[] {
    return this.actions.splice(0);
  }

  private hpai(): Hpai {
    const local = this.options.localEndpoint;
    return local ? { protocol: 'udp', ip: local.host, port: local.port } : ROUTE_BACK_HPAI;
  }

  private send(to: Endpoint, frame: KnxFrame): void {
    this.actions.push({ type: 'send', to, frame });
  }

  private sendToGateway(service: 'CONNECTIONSTATE_REQUEST' | 'DISCONNECT_REQUEST'): void {
    this.send(this.options.gateway, { service, channelId: this.channelId, control: this.hpai() });
  }

  private drop(reason: string): void {
    this.actions.push({ type: 'dropped', reason });
  }

  connect(nowMs: number): void {
    if (this.stateValue === 'connecting' || this.stateValue === 'connected') return;
    this.stateValue = 'connecting';
    this.channelId = 0;
    this.inboundExpected = 0;
    this.window.reset();
    this.heartbeat = undefined;
    this.nextHeartbeatMs = undefined;
    this.stateDeadlineMs = nowMs + this.timers.connectTimeoutMs;
    this.send(this.options.gateway, {
      service: 'CONNECT_REQUEST',
      control: this.hpai(),
      data: this.hpai(),
      cri: {
        connectionType: 'tunnel',
        layer: this.options.layer ?? TunnelLayer.LINK,
        ...(this.options.requestedAddress === undefined
          ? {}
          : { individualAddress: this.options.requestedAddress }),
      },
    });
  }

  /** Queues a cEMI frame for the gateway; returns the id used in request-done/-failed. */
  request(
    cemi: Cemi,
    nowMs: number,
    awaitConfirmation = cemi.messageCode === CemiMessageCode.L_DATA_REQ,
  ): number {
    const id = this.requests.enqueue(cemi, awaitConfirmation);
    this.pump(nowMs);
    return id;
  }

  disconnect(nowMs: number): void {
    if (this.stateValue === 'connected') {
      this.stateValue = 'disconnecting';
      this.stateDeadlineMs = nowMs + this.timers.disconnectTimeoutMs;
      this.sendToGateway('DISCONNECT_REQUEST');
    } else if (this.stateValue === 'idle' || this.stateValue === 'connecting') {
      this.close(new KnxError('MF_KNX_TUNNEL_CLOSED', 'tunnel closed by the client'), false, false);
    }
  }

  private pump(nowMs: number): void {
    if (this.stateValue !== 'connected' || this.window.busy || nowMs < this.nextRequestAllowedMs) return;
    const next = this.requests.startNext(nowMs);
    if (!next) return;
    this.nextRequestAllowedMs = nowMs + this.minRequestIntervalMs;
    const sequence = this.window.start(next, nowMs);
    this.send(this.dataEndpoint, {
      service: 'TUNNELLING_REQUEST',
      channelId: this.channelId,
      sequence,
      cemi: next.cemi,
    });
  }

  /** Handles one decoded frame from the gateway. */
  receive(frame: KnxFrame, nowMs: number): void {
    switch (frame.service) {
      case 'CONNECT_RESPONSE':
        this.onConnectResponse(frame, nowMs);
        break;
      case 'TUNNELLING_REQUEST':
        this.onTunnellingRequest(frame);
        break;
      case 'TUNNELLING_ACK':
        this.onTunnellingAck(frame, nowMs);
        break;
      case 'CONNECTIONSTATE_RESPONSE':
        this.onConnectionStateResponse(frame, nowMs);
        break;
      case 'DISCONNECT_REQUEST':
        this.onDisconnectRequest(frame);
        break;
      case 'DISCONNECT_RESPONSE':
        if (this.stateValue === 'disconnecting' && frame.channelId === this.channelId) {
          this.close(new KnxError('MF_KNX_TUNNEL_CLOSED', 'tunnel closed by the client'), false, false);
        } else this.drop(`unexpected DISCONNECT_RESPONSE for channel ${frame.channelId}`);
        break;
      default:
        this.drop(`unexpected ${frame.service} on a tunnelling connection`);
    }
  }

  private onConnectResponse(frame: FrameOf<'CONNECT_RESPONSE'>, nowMs: number): void {
    if (this.stateValue !== 'connecting') {
      this.drop('CONNECT_RESPONSE while not connecting');
      return;
    }
    const { host, port } = this.options.gateway;
    if (frame.status === ErrorCode.E_NO_MORE_CONNECTIONS) {
      const message = `gateway ${host}:${port} has no free tunnel (E_NO_MORE_CONNECTIONS); close another client's tunnel or raise the gateway's tunnel count`;
      this.close(new KnxError('MF_KNX_NO_MORE_CONNECTIONS', message, { status: frame.status }), true, false);
      return;
    }
    if (frame.status !== ErrorCode.E_NO_ERROR) {
      const name = errorName(frame.status);
      const message = `gateway ${host}:${port} rejected the tunnel: ${name} (0x${frame.status.toString(16).padStart(2, '0')})`;
      this.close(
        new KnxError('MF_KNX_CONNECT_REJECTED', message, { status: frame.status, statusName: name }),
        true,
        false,
      );
      return;
    }
    if (frame.crd?.connectionType !== 'tunnel' || !frame.data) {
      const error = new KnxError(
        'MF_KNX_CONNECT_REJECTED',
        'CONNECT_RESPONSE lacks a tunnel CRD or data endpoint',
      );
      this.close(error, true, false);
      return;
    }
    this.channelId = frame.channelId;
    this.individualAddressValue = frame.crd.individualAddress;
    // A route-back data HPAI (or 0.0.0.0) means "the address you talk to": use the gateway's.
    const routeBack = isRouteBack(frame.data) || frame.data.ip === '0.0.0.0';
    this.dataEndpoint = routeBack ? this.options.gateway : { host: frame.data.ip, port: frame.data.port };
    this.stateValue = 'connected';
    this.stateDeadlineMs = undefined;
    this.nextHeartbeatMs = nowMs + this.timers.heartbeatIntervalMs;
    this.actions.push({
      type: 'connected',
      channelId: this.channelId,
      individualAddress: this.individualAddressValue,
      dataEndpoint: this.dataEndpoint,
    });
    this.pump(nowMs);
  }

  private onTunnellingRequest(frame: FrameOf<'TUNNELLING_REQUEST'>): void {
    if (this.stateValue !== 'connected' && this.stateValue !== 'disconnecting') {
      this.drop('TUNNELLING_REQUEST while not connected');
      return;
    }
    if (frame.channelId !== this.channelId) {
      this.drop(`TUNNELLING_REQUEST for channel ${frame.channelId}, ours is ${this.channelId}`);
      return;
    }
    const verdict = classifyIncoming(this.inboundExpected, frame.sequence);
    if (verdict === 'discard') {
      this.drop(
        `TUNNELLING_REQUEST seq ${frame.sequence}, expected ${this.inboundExpected}: discarded without ACK`,
      );
      return;
    }
    // ACK first and unconditionally (also a negative L_Data.con: ioBroker.knx #184).
    const ack: KnxFrame = {
      service: 'TUNNELLING_ACK',
      channelId: this.channelId,
      sequence: frame.sequence,
      status: 0,
    };
    this.send(this.dataEndpoint, ack);
    if (verdict === 'duplicate') {
      this.drop(`duplicate TUNNELLING_REQUEST seq ${frame.sequence}: ACKed again, not delivered`);
      return;
    }
    this.inboundExpected = nextSequence(this.inboundExpected);
    const cemi = frame.cemi;
    if (cemi.kind === 'ldata' && cemi.messageCode === CemiMessageCode.L_DATA_CON)
      this.requests.confirmation(cemi);
    this.actions.push({ type: 'telegram', cemi });
  }

  private onTunnellingAck(frame: FrameOf<'TUNNELLING_ACK'>, nowMs: number): void {
    if (frame.channelId !== this.channelId) {
      this.drop(`TUNNELLING_ACK for channel ${frame.channelId}, ours is ${this.channelId}`);
      return;
    }
    const request = this.window.acknowledge(frame.sequence);
    if (!request) {
      this.drop(`TUNNELLING_ACK seq ${frame.sequence} matches no outstanding request`);
      return;
    }
    if (frame.status !== ErrorCode.E_NO_ERROR) {
      const name = errorName(frame.status);
      this.requests.fail(
        request,
        new KnxError('MF_KNX_CONNECT_REJECTED', `gateway refused the request: ${name}`),
      );
      this.close(
        new KnxError('MF_KNX_TUNNEL_CLOSED', `TUNNELLING_ACK carried ${name}; reconnecting`),
        true,
        true,
      );
      return;
    }
    this.requests.acknowledged(request);
    this.pump(nowMs);
  }

  private onConnectionStateResponse(frame: FrameOf<'CONNECTIONSTATE_RESPONSE'>, nowMs: number): void {
    if (frame.channelId !== this.channelId || !this.heartbeat) {
      this.drop(`unexpected CONNECTIONSTATE_RESPONSE for channel ${frame.channelId}`);
    } else if (frame.status === ErrorCode.E_NO_ERROR) {
      this.heartbeat = undefined;
      this.nextHeartbeatMs = nowMs + this.timers.heartbeatIntervalMs;
    } else {
      // A non-zero status counts as a failed attempt (Calimero, Qt): try again right away.
      this.heartbeatAttemptFailed(nowMs, errorName(frame.status));
    }
  }

  private onDisconnectRequest(frame: FrameOf<'DISCONNECT_REQUEST'>): void {
    if (frame.channelId !== this.channelId || this.stateValue === 'idle' || this.stateValue === 'closed') {
      this.drop(`DISCONNECT_REQUEST for channel ${frame.channelId}, ours is ${this.channelId}`);
      return;
    }
    this.send(this.options.gateway, { service: 'DISCONNECT_RESPONSE', channelId: this.channelId, status: 0 });
    const error = new KnxError('MF_KNX_TUNNEL_CLOSED', `gateway closed tunnel channel ${this.channelId}`, {
      channelId: this.channelId,
    });
    this.close(error, this.stateValue !== 'disconnecting', false);
  }

  private heartbeatAttemptFailed(nowMs: number, why: string): void {
    const attempt = this.heartbeat?.attempt ?? 1;
    if (attempt < this.timers.heartbeatAttempts) {
      this.sendHeartbeat(nowMs, attempt + 1);
      return;
    }
    this.heartbeat = undefined;
    const message = `gateway failed ${attempt} heartbeats (last: ${why}); reconnecting`;
    this.close(new KnxError('MF_KNX_TIMEOUT', message, { attempts: attempt }), true, true);
  }

  private sendHeartbeat(nowMs: number, attempt: number): void {
    this.heartbeat = { attempt, deadlineMs: nowMs + this.timers.heartbeatTimeoutMs };
    this.sendToGateway('CONNECTIONSTATE_REQUEST');
  }

  /** Advances timers: ACK repeats, heartbeats, confirmation and connect timeouts. */
  tick(nowMs: number): void {
    const waiting = this.stateValue === 'connecting' || this.stateValue === 'disconnecting';
    if (waiting && this.stateDeadlineMs !== undefined && nowMs >= this.stateDeadlineMs) {
      const { host, port } = this.options.gateway;
      if (this.stateValue === 'connecting') {
        const message = `no CONNECT_RESPONSE from ${host}:${port} within ${this.timers.connectTimeoutMs} ms; is the gateway reachable?`;
        this.close(new KnxError('MF_KNX_TIMEOUT', message), true, false);
      } else {
        this.close(
          new KnxError('MF_KNX_TUNNEL_CLOSED', 'tunnel closed by the client (no DISCONNECT_RESPONSE)'),
          false,
          false,
        );
      }
      return;
    }
    if (this.stateValue !== 'connected' && this.stateValue !== 'disconnecting') return;
    const step = this.window.onTime(nowMs);
    if (step.action === 'repeat') {
      const { sequence, item } = step;
      this.send(this.dataEndpoint, {
        service: 'TUNNELLING_REQUEST',
        channelId: this.channelId,
        sequence,
        cemi: item.cemi,
      });
    } else if (step.action === 'give-up') {
      this.requests.fail(
        step.item,
        new KnxError('MF_KNX_TIMEOUT', 'no TUNNELLING_ACK after the request and one repeat'),
      );
      this.close(
        new KnxError('MF_KNX_TIMEOUT', 'gateway did not ACK a request and its repeat; reconnecting'),
        true,
        true,
      );
      return;
    }
    this.requests.expire(nowMs);
    if (this.stateValue !== 'connected') return;
    this.pump(nowMs);
    if (this.heartbeat && nowMs >= this.heartbeat.deadlineMs) this.heartbeatAttemptFailed(nowMs, 'timeout');
    else if (!this.heartbeat && this.nextHeartbeatMs !== undefined && nowMs >= this.nextHeartbeatMs) {
      this.sendHeartbeat(nowMs, 1);
    }
  }

  /** The earliest time `tick` has something to do, or undefined. */
  nextDeadlineMs(): number | undefined {
    if (this.stateValue === 'idle' || this.stateValue === 'closed') return undefined;
    const candidates = [this.stateDeadlineMs, this.window.deadlineMs, this.requests.nextDeadlineMs()];
    const rateLimited = this.requests.queued > 0 && !this.window.busy && this.stateValue === 'connected';
    if (rateLimited) candidates.push(this.nextRequestAllowedMs);
    if (this.stateValue === 'connected')
      candidates.push(this.heartbeat ? this.heartbeat.deadlineMs : this.nextHeartbeatMs);
    const defined = candidates.filter((c): c is number => c !== undefined);
    return defined.length === 0 ? undefined : Math.min(...defined);
  }

  private close(error: KnxError, reconnect: boolean, sendDisconnect: boolean): void {
    if (sendDisconnect && this.stateValue === 'connected') this.sendToGateway('DISCONNECT_REQUEST');
    this.stateValue = 'closed';
    this.stateDeadlineMs = undefined;
    this.heartbeat = undefined;
    this.nextHeartbeatMs = undefined;
    this.window.reset();
    this.requests.closed(error, !reconnect);
    this.actions.push({ type: 'closed', error, reconnect });
  }
}
