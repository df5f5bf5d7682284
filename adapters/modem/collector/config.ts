import { ConfigError } from '../../../core/errors.js';
import { defaultIdentificationConfig, type IdentificationConfig } from '../identification.js';
import type { PortRange } from '../registry/types.js';

export type CollectorConfig = {
  /** Name of this node in logs, events and the cluster session directory. */
  nodeId: string;
  /** Where modems dial in. Port 0 picks a free port (tests). */
  modemListen: { host: string; port: number };
  /** Address the bridge ports are bound to (never 0.0.0.0 unless configured so). */
  bridgeHost: string;
  portRange: PortRange;
  /** What to do with an IMEI the registry does not know. */
  unknownModems: 'register' | 'refuse';
  /** Organization of modems registered on first contact. */
  defaultOrganization: string;
  identification: IdentificationConfig;
  /** A modem that has not identified itself within this time is closed. */
  identTimeoutMs: number;
  /** A modem connection with no bytes either way for this long is considered dead and closed. */
  idleTimeoutMs: number;
  /** TCP keepalive probes start after this much silence (dead-peer detection below the idle timeout). */
  tcpKeepAliveMs: number;
  /** A second poller for a busy modem waits in a bounded queue or is refused at once. */
  pollerPolicy: 'queue' | 'refuse';
  maxQueuedPollers: number;
  /** How long a queued poller may wait before it is refused. */
  pollerQueueTimeoutMs: number;
  /** Connections still identifying, at most (a flood of silent sockets cannot exhaust memory). */
  maxPendingIdentifications: number;
  /** Modem sessions held by this node, at most. */
  maxModemSessions: number;
  /** `all-registered` opens every registered modem's port at start (iRZ's "open sockets at start"). */
  openBridgePorts: 'all-registered' | 'while-online';
  /** Write one `MF-REFUSED <code> <reason>` line to a refused poller before closing it. */
  refusalNotice: boolean;
  /** Listen for polls forwarded by other nodes (cluster mode); port 0 picks a free port. */
  forwardListen?: { host: string; port: number };
  /** Shared secret that authenticates forwarded polls between nodes. */
  forwardSecret?: string;
  /** Cluster mode: how often to open bridge ports for modems registered on other nodes. */
  bridgeRefreshMs: number;
};

export const defaultCollectorConfig: Omit<CollectorConfig, 'nodeId' | 'modemListen' | 'portRange'> = {
  bridgeHost: '127.0.0.1',
  unknownModems: 'register',
  defaultOrganization: 'default',
  identification: defaultIdentificationConfig,
  identTimeoutMs: 10_000,
  idleTimeoutMs: 15 * 60_000,
  tcpKeepAliveMs: 60_000,
  pollerPolicy: 'queue',
  maxQueuedPollers: 4,
  pollerQueueTimeoutMs: 30_000,
  maxPendingIdentifications: 10_000,
  maxModemSessions: 100_000,
  openBridgePorts: 'all-registered',
  refusalNotice: true,
  bridgeRefreshMs: 5000,
};

export function validateCollectorConfig(config: CollectorConfig): CollectorConfig {
  const problems: string[] = [];
  const { first, last } = config.portRange;
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last > 65535 || first > last) {
    problems.push(`portRange ${first}-${last} must be integers within 1..65535, first <= last`);
  }
  for (const [name, value] of [
    ['identTimeoutMs', config.identTimeoutMs],
    ['idleTimeoutMs', config.idleTimeoutMs],
    ['tcpKeepAliveMs', config.tcpKeepAliveMs],
    ['pollerQueueTimeoutMs', config.pollerQueueTimeoutMs],
  ] as const) {
    if (!(value > 0)) problems.push(`${name} must be > 0`);
  }
  if (config.maxQueuedPollers < 0) problems.push('maxQueuedPollers must be >= 0');
  if (config.forwardListen && !config.forwardSecret) {
    problems.push('forwardListen needs forwardSecret: forwarded polls must be authenticated');
  }
  if (config.forwardSecret !== undefined && config.forwardSecret.length < 16) {
    problems.push('forwardSecret must be at least 16 characters');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
