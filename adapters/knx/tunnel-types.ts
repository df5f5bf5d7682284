import type { Cemi } from './cemi.js';
import type { KnxError } from './errors.js';
import type { KnxFrame } from './frame.js';

/** Types shared by the tunnelling session, its request tracker and the UDP driver. */

export type Endpoint = { host: string; port: number };

/** Tunnelling timers (reference §1.5); every wait has an explicit bound. */
export type TunnelTimers = {
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Attempts per heartbeat round (the first plus repeats) before the tunnel is given up. */
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
  /** Tunnelling v2: ask for this individual address (extended CRI `06 04 02 00 <IA>`). */
  requestedAddress?: number;
  timers?: Partial<TunnelTimers>;
  /** Upper bound of requests waiting to be sent. */
  maxQueueLength?: number;
  /**
   * Send rate limit for our own requests (gateways disconnect flooding clients). It never
   * delays TUNNELLING_ACKs, which are sent the moment a request arrives.
   */
  maxRequestsPerSecond?: number;
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
