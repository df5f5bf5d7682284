import type { Cemi, LDataFrame } from './cemi.js';
import { CemiMessageCode, ErrorCode, errorName, TunnelLayer } from './constants.js';
import { KnxError } from './errors.js';
import type { KnxFrame } from './frame.js';
import { classifyIncoming, nextSequence, OutboundWindow } from './sequence.js';
import { type Hpai, isRouteBack, ROUTE_BACK_HPAI } from './structures.js';

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
 * L_Data.req (it may arrive before or after the ACK).
 */

export type Endpoint = { host: string; port: number };

export type TunnelTimers = {
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  heartbeatAttempts: number;
  confirmationTimeoutMs: number;
  disconnectTimeoutMs: number;
};

export const defaultTunnelTimers: TunnelTimers = {
  connectTimeoutMs: 10_000,
  ackTimeoutMs: 1_000,
  heartbeatIntervalMs: 60_000,
  heartbeatTimeoutMs: 10_000,
  heartbeatAttempts: 4,
  confirmationTimeoutMs: 3_000,
  disconnectTimeoutMs: 2_000,
};

export type TunnelSessionOptions = {
  gateway: Endpoint;
  /** Our endpoint as announced in the HPAIs; undefined = route-back HPAIs (NAT/Docker). */
  localEndpoint?: Endpoint;
  /** Tunnel layer (link layer by default; 0x80 = busmonitor). */
  layer?: number;
  timers?: Partial<TunnelTimers>;
  /** Upper bound of requests waiting to be sent. */
  maxQueueLength?: number;
};

export type RequestOutcome = { confirmation: 'positive' | 'negative' | 'not-requested' };

export type SessionAction =
  | { type: 'send'; to: Endpoint; frame: KnxFrame }
  | { type: 'connected'; channelId: number; individualAddress: number; dataEndpoint: Endpoint }
  | { type: 'telegram'; cemi: Cemi }
  | { type: 'request-done'; id: number; outcome: RequestOutcome }
  | { type: 'request-failed'; id: number; error: KnxError }
  | { type: 'closed'; error: KnxError; reconnect: boolean }
  | { type: 'dropped'; reason: string };

export type SessionState = 'idle' | 'connecting' | 'connected' | 'disconnecting' | 'closed';

type PendingRequest = {
  id: number;
  cemi: Cemi;
  awaitConfirmation: boolean;
  acked: boolean;
  confirmation?: 'positive' | 'negative';
  confirmationDeadlineMs?: number;
};

const DEFAULT_MAX_QUEUE = 256;

function sameTelegram(a: LDataFrame, b: LDataFrame): boolean {
  if (a.destination !== b.destination || a.groupDestination !== b.groupDestination) return false;
  if (a.tpdu.tpci !== b.tpdu.tpci || a.tpdu.apci !== b.tpdu.apci || a.tpdu.data.length !== b.tpdu.data.length)
    return false;
  return a.tpdu.data.every((v, i) => v === b.tpdu.data[i]);
}

export class TunnelSession {
  private readonly timers: TunnelTimers;
  private readonly maxQueueLength: number;
  private stateValue: SessionState = 'idle';
  private channelId = 0;
  private dataEndpoint: Endpoint;
  private individualAddressValue = 0;
  private inboundExpected = 0;
  private readonly window: OutboundWindow<PendingRequest>;
  private readonly queue: PendingRequest[] = [];
  /** Sent (at least once) and waiting for ACK and/or L_Data.con. */
  private readonly inFlight: PendingRequest[] = [];
  private nextId = 1;
  private stateDeadlineMs: number | undefined;
  private nextHeartbeatMs: number | undefined;
  private heartbeat: { attempt: number; deadlineMs: number } | undefined;
  private actions: SessionAction[] = [];

  constructor(private readonly options: TunnelSessionOptions) {
    this.timers = { ...defaultTunnelTimers, ...options.timers };
    this.maxQueueLength = options.maxQueueLength ?? DEFAULT_MAX_QUEUE;
    this.window = new OutboundWindow<PendingRequest>(this.timers.ackTimeoutMs);
    this.dataEndpoint = options.gateway;
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
    return this.queue.length;
  }

  /** Drains the actions produced so far. */
  takeActions(): SessionAction[] {
    const out = this.actions;
    this.actions = [];
    return out;
  }

  private hpai(): Hpai {
    const local = this.options.localEndpoint;
    return local ? { protocol: 'udp', ip: local.host, port: local.port } : ROUTE_BACK_HPAI;
  }

  private send(to: Endpoint, frame: KnxFrame): void {
    this.actions.push({ type: 'send', to, frame });
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
      cri: { connectionType: 'tunnel', layer: this.options.layer ?? TunnelLayer.LINK },
    });
  }

  /** Queues a cEMI frame for the gateway; returns the request id used in request-done/-failed. */
  request(
    cemi: Cemi,
    nowMs: number,
    awaitConfirmation = cemi.messageCode === CemiMessageCode.L_DATA_REQ,
  ): number {
    if (this.queue.length >= this.maxQueueLength) {
      throw new KnxError(
        'MF_KNX_QUEUE_FULL',
        `tunnel send queue is full (${this.maxQueueLength} requests); slow down or raise maxQueueLength`,
        { maxQueueLength: this.maxQueueLength },
      );
    }
    const id = this.nextId++;
    this.queue.push({ id, cemi, awaitConfirmation, acked: false });
    this.pump(nowMs);
    return id;
  }

  disconnect(nowMs: number): void {
    if (this.stateValue === 'connected') {
      this.stateValue = 'disconnecting';
      this.stateDeadlineMs = nowMs + this.timers.disconnectTimeoutMs;
      this.send(this.options.gateway, {
        service: 'DISCONNECT_REQUEST',
        channelId: this.channelId,
        control: this.hpai(),
      });
      return;
    }
    if (this.stateValue !== 'closed' && this.stateValue !== 'disconnecting') {
      this.close(new KnxError('MF_KNX_TUNNEL_CLOSED', 'tunnel closed by the client'), false, false);
    }
  }

  private pump(nowMs: number): void {
    if (this.stateValue !== 'connected' || this.window.busy) return;
    const next = this.queue.shift();
    if (!next) return;
    const sequence = this.window.start(next, nowMs);
    if (next.awaitConfirmation) next.confirmationDeadlineMs = nowMs + this.timers.confirmationTimeoutMs;
    this.inFlight.push(next);
    this.send(this.dataEndpoint, {
      service: 'TUNNELLING_REQUEST',
      channelId: this.channelId,
      sequence,
      cemi: next.cemi,
    });
  }

  private finishIfComplete(p: PendingRequest): void {
    if (!p.acked || (p.awaitConfirmation && p.confirmation === undefined)) return;
    this.removeInFlight(p);
    this.actions.push({
      type: 'request-done',
      id: p.id,
      outcome: { confirmation: p.awaitConfirmation ? p.confirmation! : 'not-requested' },
    });
  }

  private removeInFlight(p: PendingRequest): void {
    const index = this.inFlight.indexOf(p);
    if (index >= 0) this.inFlight.splice(index, 1);
  }

  private fail(p: PendingRequest, error: KnxError): void {
    this.removeInFlight(p);
    this.actions.push({ type: 'request-failed', id: p.id, error });
  }

  /** Handles one decoded frame from the gateway. */
  receive(frame: KnxFrame, nowMs: number): void {
    switch (frame.service) {
      case 'CONNECT_RESPONSE': {
        this.onConnectResponse(frame, nowMs);
        return;
      }
      case 'TUNNELLING_REQUEST': {
        this.onTunnellingRequest(frame);
        return;
      }
      case 'TUNNELLING_ACK': {
        this.onTunnellingAck(frame, nowMs);
        return;
      }
      case 'CONNECTIONSTATE_RESPONSE': {
        this.onConnectionStateResponse(frame, nowMs);
        return;
      }
      case 'DISCONNECT_REQUEST':
        if (
          frame.channelId !== this.channelId ||
          this.stateValue === 'idle' ||
          this.stateValue === 'closed'
        ) {
          this.drop(`DISCONNECT_REQUEST for channel ${frame.channelId}, ours is ${this.channelId}`);
          return;
        }
        this.send(this.options.gateway, {
          service: 'DISCONNECT_RESPONSE',
          channelId: this.channelId,
          status: 0,
        });
        {
          this.close(
            new KnxError('MF_KNX_TUNNEL_CLOSED', `gateway closed tunnel channel ${this.channelId}`, {
              channelId: this.channelId,
            }),
            this.stateValue !== 'disconnecting',
            false,
          );
          return;
        }
      case 'DISCONNECT_RESPONSE':
        if (this.stateValue === 'disconnecting' && frame.channelId === this.channelId) {
          this.close(new KnxError('MF_KNX_TUNNEL_CLOSED', 'tunnel closed by the client'), false, false);
          return;
        }
        {
          this.drop(`unexpected DISCONNECT_RESPONSE for channel ${frame.channelId}`);
          return;
        }
      default: {
        this.drop(`unexpected ${frame.service} on a tunnelling connection`);
        return;
      }
    }
  }

  private drop(reason: string): void {
    this.actions.push({ type: 'dropped', reason });
  }

  private onConnectResponse(frame: Extract<KnxFrame, { service: 'CONNECT_RESPONSE' }>, nowMs: number): void {
    if (this.stateValue !== 'connecting') {
      this.drop('CONNECT_RESPONSE while not connecting');
      return;
    }
    if (frame.status !== ErrorCode.E_NO_ERROR) {
      const noMore = frame.status === ErrorCode.E_NO_MORE_CONNECTIONS;
      const error = noMore
        ? new KnxError(
            'MF_KNX_NO_MORE_CONNECTIONS',
            `gateway ${this.options.gateway.host}:${this.options.gateway.port} has no free tunnel (E_NO_MORE_CONNECTIONS); close another client's tunnel or raise the gateway's tunnel count`,
            { status: frame.status },
          )
        : new KnxError(
            'MF_KNX_CONNECT_REJECTED',
            `gateway rejected the tunnel: ${errorName(frame.status)} (0x${frame.status.toString(16).padStart(2, '0')})`,
            { status: frame.status, statusName: errorName(frame.status) },
          );
      this.close(error, true, false);
      return;
    }
    if (frame.crd?.connectionType !== 'tunnel' || !frame.data) {
      this.close(
        new KnxError('MF_KNX_CONNECT_REJECTED', 'CONNECT_RESPONSE lacks a tunnel CRD or data endpoint'),
        true,
        false,
      );
      return;
    }
    this.channelId = frame.channelId;
    this.individualAddressValue = frame.crd.individualAddress;
    // A route-back data HPAI (or 0.0.0.0) means "the address you talk to": use the gateway's.
    this.dataEndpoint =
      isRouteBack(frame.data) || frame.data.ip === '0.0.0.0'
        ? this.options.gateway
        : { host: frame.data.ip, port: frame.data.port };
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

  private onTunnellingRequest(frame: Extract<KnxFrame, { service: 'TUNNELLING_REQUEST' }>): void {
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
    // ACK first and unconditionally (also for a negative L_Data.con: ioBroker.knx #184).
    this.send(this.dataEndpoint, {
      service: 'TUNNELLING_ACK',
      channelId: this.channelId,
      sequence: frame.sequence,
      status: ErrorCode.E_NO_ERROR,
    });
    if (verdict === 'duplicate') {
      this.drop(`duplicate TUNNELLING_REQUEST seq ${frame.sequence}: ACKed again`);
      return;
    }
    this.inboundExpected = nextSequence(this.inboundExpected);
    const cemi = frame.cemi;
    if (cemi.kind === 'ldata' && cemi.messageCode === CemiMessageCode.L_DATA_CON)
      this.matchConfirmation(cemi);
    this.actions.push({ type: 'telegram', cemi });
  }

  private matchConfirmation(con: LDataFrame): void {
    const p = this.inFlight.find(
      (r) =>
        r.awaitConfirmation &&
        r.confirmation === undefined &&
        r.cemi.kind === 'ldata' &&
        sameTelegram(r.cemi, con),
    );
    if (!p) return;
    p.confirmation = con.confirmError ? 'negative' : 'positive';
    this.finishIfComplete(p);
  }

  private onTunnellingAck(frame: Extract<KnxFrame, { service: 'TUNNELLING_ACK' }>, nowMs: number): void {
    if (frame.channelId !== this.channelId) {
      this.drop(`TUNNELLING_ACK for channel ${frame.channelId}, ours is ${this.channelId}`);
      return;
    }
    const current = this.window.current;
    if (!current || current.sequence !== frame.sequence) {
      this.drop(`TUNNELLING_ACK seq ${frame.sequence} matches no outstanding request`);
      return;
    }
    const p = this.window.acknowledge(frame.sequence)!;
    if (frame.status !== ErrorCode.E_NO_ERROR) {
      this.fail(
        p,
        new KnxError('MF_KNX_CONNECT_REJECTED', `gateway refused the request: ${errorName(frame.status)}`, {
          status: frame.status,
        }),
      );
      this.close(
        new KnxError(
          'MF_KNX_TUNNEL_CLOSED',
          `TUNNELLING_ACK carried ${errorName(frame.status)}; reconnecting`,
        ),
        true,
        true,
      );
      return;
    }
    p.acked = true;
    this.finishIfComplete(p);
    this.pump(nowMs);
  }

  private onConnectionStateResponse(
    frame: Extract<KnxFrame, { service: 'CONNECTIONSTATE_RESPONSE' }>,
    nowMs: number,
  ): void {
    if (frame.channelId !== this.channelId || !this.heartbeat) {
      this.drop(`unexpected CONNECTIONSTATE_RESPONSE for channel ${frame.channelId}`);
      return;
    }
    if (frame.status === ErrorCode.E_NO_ERROR) {
      this.heartbeat = undefined;
      this.nextHeartbeatMs = nowMs + this.timers.heartbeatIntervalMs;
      return;
    }
    // A non-zero status counts as a failed attempt (Calimero, Qt): try again right away.
    this.heartbeatAttemptFailed(nowMs, errorName(frame.status));
  }

  private heartbeatAttemptFailed(nowMs: number, why: string): void {
    const attempt = this.heartbeat?.attempt ?? 1;
    if (attempt >= this.timers.heartbeatAttempts) {
      this.heartbeat = undefined;
      this.close(
        new KnxError('MF_KNX_TIMEOUT', `gateway failed ${attempt} heartbeats (last: ${why}); reconnecting`, {
          attempts: attempt,
        }),
        true,
        true,
      );
      return;
    }
    this.sendHeartbeat(nowMs, attempt + 1);
  }

  private sendHeartbeat(nowMs: number, attempt: number): void {
    this.heartbeat = { attempt, deadlineMs: nowMs + this.timers.heartbeatTimeoutMs };
    this.send(this.options.gateway, {
      service: 'CONNECTIONSTATE_REQUEST',
      channelId: this.channelId,
      control: this.hpai(),
    });
  }

  /** Advances timers: ACK repeats, heartbeats, confirmation and connect timeouts. */
  tick(nowMs: number): void {
    if (this.stateValue === 'connecting' || this.stateValue === 'disconnecting') {
      if (this.stateDeadlineMs !== undefined && nowMs >= this.stateDeadlineMs) {
        const connecting = this.stateValue === 'connecting';
        this.close(
          connecting
            ? new KnxError(
                'MF_KNX_TIMEOUT',
                `no CONNECT_RESPONSE from ${this.options.gateway.host}:${this.options.gateway.port} within ${this.timers.connectTimeoutMs} ms; is the gateway reachable?`,
              )
            : new KnxError('MF_KNX_TUNNEL_CLOSED', 'tunnel closed by the client (no DISCONNECT_RESPONSE)'),
          connecting,
          false,
        );
        return;
      }
    }
    if (this.stateValue !== 'connected' && this.stateValue !== 'disconnecting') return;
    const step = this.window.onTime(nowMs);
    if (step.action === 'repeat') {
      this.send(this.dataEndpoint, {
        service: 'TUNNELLING_REQUEST',
        channelId: this.channelId,
        sequence: step.sequence,
        cemi: step.item.cemi,
      });
    } else if (step.action === 'give-up') {
      this.fail(
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
    for (const p of [...this.inFlight]) {
      if (
        p.confirmationDeadlineMs !== undefined &&
        p.confirmation === undefined &&
        nowMs >= p.confirmationDeadlineMs
      ) {
        this.fail(
          p,
          new KnxError(
            'MF_KNX_TIMEOUT',
            `no L_Data.con within ${this.timers.confirmationTimeoutMs} ms: the telegram may not have reached the bus`,
          ),
        );
      }
    }
    if (this.stateValue !== 'connected') return;
    if (this.heartbeat && nowMs >= this.heartbeat.deadlineMs) {
      this.heartbeatAttemptFailed(nowMs, 'timeout');
    } else if (!this.heartbeat && this.nextHeartbeatMs !== undefined && nowMs >= this.nextHeartbeatMs) {
      this.sendHeartbeat(nowMs, 1);
    }
  }

  /** The earliest time `tick` has something to do, or undefined. */
  nextDeadlineMs(): number | undefined {
    const candidates = [
      this.stateDeadlineMs,
      this.window.deadlineMs,
      ...this.inFlight.map((p) => p.confirmationDeadlineMs),
    ];
    if (this.stateValue === 'connected')
      candidates.push(this.heartbeat ? this.heartbeat.deadlineMs : this.nextHeartbeatMs);
    const defined = candidates.filter((c): c is number => c !== undefined);
    if (this.stateValue === 'idle' || this.stateValue === 'closed' || defined.length === 0) return undefined;
    return Math.min(...defined);
  }

  private close(error: KnxError, reconnect: boolean, sendDisconnect: boolean): void {
    if (sendDisconnect && this.stateValue === 'connected') {
      this.send(this.options.gateway, {
        service: 'DISCONNECT_REQUEST',
        channelId: this.channelId,
        control: this.hpai(),
      });
    }
    this.stateValue = 'closed';
    this.stateDeadlineMs = undefined;
    this.heartbeat = undefined;
    this.nextHeartbeatMs = undefined;
    const outstanding = this.window.current?.item;
    this.window.reset();
    // Requests already sent may or may not have reached the bus: fail them rather than resend.
    for (const p of [...this.inFlight]) this.fail(p, error);
    if (outstanding && this.inFlight.includes(outstanding)) this.fail(outstanding, error);
    // Requests never sent survive a reconnect; on a final close they fail.
    if (!reconnect)
      for (const p of this.queue.splice(0)) this.actions.push({ type: 'request-failed', id: p.id, error });
    this.actions.push({ type: 'closed', error, reconnect });
  }
}
