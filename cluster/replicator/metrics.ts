import { Gauge, type Registry } from 'prom-client';
import type { ReplicaHost } from './host.js';

/**
 * Prometheus gauges of a node's replicas, read from the host when scraped (nothing on the
 * write path). The node registers them on its own registry:
 * `registerReplicatorMetrics(metrics.registry, host)`.
 */
export function registerReplicatorMetrics(registry: Registry, host: ReplicaHost): void {
  const perReplica = (
    name: string,
    help: string,
    value: (s: ReturnType<ReplicaHost['openReplicas']>[number]) => number | null,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['partition'],
      registers: [registry],
      collect() {
        this.reset();
        for (const replica of host.openReplicas()) {
          const v = value(replica);
          if (v !== null) this.set({ partition: replica.partition }, v);
        }
      },
    });
  perReplica(
    'mf_replica_persisted_lsn',
    'Highest LSN persisted (sync) in this replica log',
    (r) => r.log.persistedLsn,
  );
  perReplica(
    'mf_replica_committed_lsn',
    'Highest LSN known committed by a majority',
    (r) => r.status().committedLsn,
  );
  perReplica('mf_replica_applied_lsn', 'Highest LSN applied to the state', (r) => r.log.appliedLsn);
  perReplica('mf_replica_epoch', 'Epoch this replica is fenced at', (r) => r.log.fencedEpoch);
  perReplica(
    'mf_replica_log_entries',
    'Entries in the log (not yet compacted)',
    (r) => r.log.lastLsn - r.log.logStartLsn + 1,
  );
  perReplica('mf_replication_queue_ops', 'Primary: uncommitted operations', (r) => r.queue()?.ops ?? null);
  perReplica(
    'mf_replication_queue_bytes',
    'Primary: bytes of uncommitted operations',
    (r) => r.queue()?.bytes ?? null,
  );
  perReplica(
    'mf_replication_secondaries_connected',
    'Primary: secondaries with a live replication stream',
    (r) => (r.role === 'primary' ? r.progress().filter((p) => p.connected).length : null),
  );
  new Gauge({
    name: 'mf_replica_log_fsyncs',
    help: 'Group-commit batches written with sync: true since start',
    registers: [registry],
    collect() {
      this.set(host.writer.batches);
    },
  });
  for (const [name, help, value] of [
    [
      'mf_replication_link_messages',
      'ReplicateMany messages sent to the peer since start (multiplexStreams)',
      (l: { messagesSent: number }) => l.messagesSent,
    ],
    [
      'mf_replication_link_frames',
      'Partition stream messages sent in them (divide by messages: frames per gRPC message)',
      (l: { framesSent: number }) => l.framesSent,
    ],
  ] as const) {
    new Gauge({
      name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [peer, link] of host.replicationLinks()) this.set({ peer }, value(link));
      },
    });
  }
  new Gauge({
    name: 'mf_replica_log_writes',
    help: 'Operations written in group-commit batches since start (divide by fsyncs: operations per fsync)',
    registers: [registry],
    collect() {
      this.set(host.writer.opsWritten);
    },
  });
}
