import { collectDefaultMetrics, Registry } from 'prom-client';
import { startMetricsServer } from '../../../cluster/node/metrics.js';
import { ConfigError } from '../../../core/errors.js';

/**
 * The metrics endpoint of a process that hosts the integration outputs (the `up` driver, the
 * demo CLI): GET /metrics (Prometheus text: process metrics and meterfabric_webhook_*) and
 * GET /health, on the configured address only, the same server a cluster node runs
 * (cluster/node/metrics.ts). Read-only, so unauthenticated: bind it to loopback or a
 * management network.
 */

export type IntegrationMetrics = {
  registry: Registry;
  /** host:port actually bound (port 0 picks a free one). */
  address: string;
  close(): Promise<void>;
};

export async function startIntegrationMetrics(listen: string): Promise<IntegrationMetrics> {
  const match = /^(.+):(\d{1,5})$/.exec(listen);
  if (!match || Number(match[2]) > 65535)
    throw new ConfigError([`--metrics ${listen}: expected host:port (port 0: any free port)`]);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const server = await startMetricsServer(listen, { registry }, () => ({ status: 'OK' }));
  return { registry, address: server.address, close: () => server.close() };
}
