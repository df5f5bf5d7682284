import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** This node's Prometheus metrics (one registry per node process). */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly leaseValidForMs = new Gauge({
    name: 'mf_lease_valid_for_ms',
    help: 'Milliseconds until this node would fence itself without another keepalive answer',
    registers: [this.registry],
  });
  readonly fmLeader = new Gauge({
    name: 'mf_failover_manager',
    help: '1 while this node is the elected failover manager',
    registers: [this.registry],
  });
  readonly replicas = new Gauge({
    name: 'mf_replicas',
    help: 'Replicas hosted on this node by role',
    labelNames: ['role'],
    registers: [this.registry],
  });
  readonly actorCalls = new Counter({
    name: 'mf_actor_calls_total',
    help: 'Actor calls served by this node by outcome code',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly actorCallSeconds = new Histogram({
    name: 'mf_actor_call_duration_seconds',
    help: 'Actor call latency on the primary (includes the quorum commit)',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly reconfigurations = new Counter({
    name: 'mf_reconfigurations_total',
    help: 'Configurations committed by this node as failover manager',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

export type Health = { status: 'OK' | 'WARNING' | 'ERROR'; [key: string]: unknown };

/**
 * GET /metrics (Prometheus text) and GET /health (JSON, 200 unless ERROR) on the configured
 * address only. Read-only: nothing here changes state, so it needs no authentication.
 */
export async function startMetricsServer(
  listen: string,
  metrics: Pick<NodeMetrics, 'registry'>,
  health: () => Health,
): Promise<{ address: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    if (req.url === '/health') {
      const h = health();
      res
        .writeHead(h.status === 'ERROR' ? 503 : 200, { 'content-type': 'application/json' })
        .end(JSON.stringify(h));
      return;
    }
    res.writeHead(404).end();
  });
  const separator = listen.lastIndexOf(':');
  const host = listen.slice(0, separator);
  const port = Number(listen.slice(separator + 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  return {
    address: `${host}:${boundPort}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
