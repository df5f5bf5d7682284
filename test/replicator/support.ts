import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { NodeId, PartitionConfiguration } from '../../cluster/replicator/contract.js';
import { NO_FAULTS, type ReplicationFaults } from '../../cluster/replicator/faults.js';
import { ReplicaHost } from '../../cluster/replicator/host.js';
import type { ReplicatorOptions } from '../../cluster/replicator/options.js';
import { consecutiveFreePorts } from '../support/ports.js';

export type TestNode = {
  id: NodeId;
  address: string;
  dataDir: string;
  host: ReplicaHost;
  server: grpc.Server;
  /** Stops the node abruptly (server killed, no goodbye); data stays on disk. */
  stop(): Promise<void>;
  /** Starts it again on the same address and data directory. */
  restart(): Promise<void>;
};

async function listen(server: grpc.Server, address: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
}

export async function startNode(
  id: NodeId,
  options: Partial<ReplicatorOptions> = {},
  faults: ReplicationFaults = NO_FAULTS,
  base = mkdtempSync(join(tmpdir(), `mf-repl-${id}-`)),
  clusterToken?: string,
): Promise<TestNode> {
  // Kept across restarts, so picked here: below the OS's port-0 range, where no other process
  // is handed it while the node is down.
  const port = await consecutiveFreePorts(1);
  const address = `127.0.0.1:${port}`;
  const dataDir = join(base, 'db');
  const node = { id, address, dataDir } as TestNode;
  const boot = async () => {
    const server = new grpc.Server();
    const host = await ReplicaHost.open({ nodeId: id, dataDir, server, options, faults, clusterToken });
    await listen(server, address);
    node.host = host;
    node.server = server;
  };
  node.stop = async () => {
    node.server.forceShutdown();
    await node.host.close();
  };
  node.restart = boot;
  await boot();
  return node;
}

export function removeNodeData(node: TestNode): void {
  rmSync(join(node.dataDir, '..'), { recursive: true, force: true });
}

export function config(
  partition: string,
  epoch: number,
  primary: NodeId,
  replicas: NodeId[],
  previousEpochLastLsn = 0,
  building: NodeId[] = [],
): PartitionConfiguration {
  return { partition, epoch, primary, replicas, building, status: 'ok', previousEpochLastLsn };
}

export function addressBook(nodes: readonly TestNode[]): (id: NodeId) => string | undefined {
  return (id) => nodes.find((n) => n.id === id)?.address;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined): string | undefined =>
  b ? new TextDecoder().decode(b) : undefined;
