import { Counter, Gauge, type Registry } from 'prom-client';
import type { ModemCollector } from './collector.js';

/**
 * Prometheus metrics of one collector, registered on the node's registry (the node serves the
 * endpoint). Gauges are read at scrape time; counters follow the collector's events.
 */
export function registerCollectorMetrics(registry: Registry, collector: ModemCollector): () => void {
  const labels = { node: collector.config.nodeId };
  new Gauge({
    name: 'meterfabric_modems_online',
    help: 'Modems whose TCP connection this node holds',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.set(labels, collector.sessionCount);
    },
  });
  const rejected = new Counter({
    name: 'meterfabric_modem_connections_rejected_total',
    help: 'Modem connections closed before a session, by error code',
    labelNames: ['node', 'code'],
    registers: [registry],
  });
  const pollersRejected = new Counter({
    name: 'meterfabric_modem_pollers_rejected_total',
    help: 'Polling clients turned away at a bridge port, by error code',
    labelNames: ['node', 'code'],
    registers: [registry],
  });
  const replaced = new Counter({
    name: 'meterfabric_modem_sessions_replaced_total',
    help: 'Stale modem sessions kicked by a redial with the same IMEI',
    labelNames: ['node'],
    registers: [registry],
  });
  const onRejected = (e: { code: string }) => rejected.inc({ ...labels, code: e.code });
  const onPollerRejected = (e: { code: string }) => pollersRejected.inc({ ...labels, code: e.code });
  const onReplaced = () => replaced.inc(labels);
  collector.on('modem-rejected', onRejected);
  collector.on('poller-rejected', onPollerRejected);
  collector.on('modem-replaced', onReplaced);
  return () => {
    collector.off('modem-rejected', onRejected);
    collector.off('poller-rejected', onPollerRejected);
    collector.off('modem-replaced', onReplaced);
    for (const name of [
      'meterfabric_modems_online',
      'meterfabric_modem_connections_rejected_total',
      'meterfabric_modem_pollers_rejected_total',
      'meterfabric_modem_sessions_replaced_total',
    ])
      registry.removeSingleMetric(name);
  };
}
