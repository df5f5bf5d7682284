import * as grpc from '@grpc/grpc-js';
import { parseCommandLine } from '../../core/command-line.js';
import { MeterfabricError } from '../../core/errors.js';
import { decodeConfiguration } from '../failover/config-store.js';
import { createEtcdClient, keys } from '../membership/etcd-client.js';
import type { NodeRecord } from '../membership/membership.js';
import { AdminService, callUnary, channelOptions } from '../node/grpc-contracts.js';
import { fromWireStatus, type WireReplicaStatus } from '../node/peers.js';
import type { NodeId, PartitionConfiguration, ReplicaStatus } from '../replicator/contract.js';
import { buildStatusReport, renderStatusReport, type StatusReport } from './status-report.js';

/** Reads the cluster's state: membership and configurations from etcd, LSNs from each node. */
export async function collectStatus(
  etcd: string[],
  cluster: string,
  timeoutMs = 2000,
  token: string | undefined = process.env.MF_CLUSTER_TOKEN,
): Promise<StatusReport> {
  const client = createEtcdClient(etcd, timeoutMs);
  try {
    const [nodesRaw, partitionsRaw, fm] = await Promise.all([
      client.getAll().prefix(keys.nodes(cluster)).strings(),
      client.getAll().prefix(keys.partitions(cluster)).exec(),
      client.get(keys.fm(cluster)).string(),
    ]).catch((err: unknown) => {
      throw new MeterfabricError(
        'MF_ETCD_UNREACHABLE',
        `cannot read the cluster from etcd at ${etcd.join(',')}: ${String(err)}. Is the cluster up (meterfabric up)?`,
      );
    });
    const nodes = Object.values(nodesRaw).map((v) => JSON.parse(v) as NodeRecord);
    const configs: PartitionConfiguration[] = [];
    for (const kv of partitionsRaw.kvs) {
      const v = decodeConfiguration(kv);
      if (v) configs.push(v.config);
    }
    const replicaStatuses = new Map<NodeId, ReplicaStatus[]>();
    await Promise.all(
      nodes.map(async (n) => {
        const admin = new AdminService(n.address, grpc.credentials.createInsecure(), channelOptions);
        try {
          const s = await callUnary<{ replicas: WireReplicaStatus[] }>(admin, 'Status', {}, timeoutMs, token);
          replicaStatuses.set(n.id, s.replicas.map(fromWireStatus));
        } catch {
          // unreachable: shown as such
        } finally {
          admin.close();
        }
      }),
    );
    return buildStatusReport({ cluster, failoverManager: fm, nodes, configs, replicaStatuses });
  } finally {
    client.close();
  }
}

/**
 * `meterfabric status [--etcd host:port] [--cluster name] [--json]`; exit 0 OK, 1 WARNING/ERROR
 * or etcd unreachable, 2 a flag it cannot read.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine('status', {
    args: argv,
    options: {
      etcd: { type: 'string', multiple: true },
      cluster: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: meterfabric status [--etcd 127.0.0.1:2379] [--cluster meterfabric] [--json]\n',
    );
    return 0;
  }
  const etcd =
    values.etcd?.flatMap((e) => e.split(',')) ?? (process.env.MF_ETCD ?? '127.0.0.1:2379').split(',');
  const cluster = values.cluster ?? process.env.MF_CLUSTER ?? 'meterfabric';
  const report = await collectStatus(etcd, cluster);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatusReport(report));
  return report.health === 'OK' ? 0 : 1;
}
