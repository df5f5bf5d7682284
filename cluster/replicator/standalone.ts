/**
 * A process that hosts replicas and nothing else: a gRPC server with the Replication and
 * ReplicaControl services over a ReplicaHost. Secondaries need no local control plane (a
 * replica accepts the stream of any primary whose epoch is not fenced off), so this is a
 * complete secondary node for data-plane tests and benchmarks in separate processes.
 *
 *   node dist/cluster/replicator/standalone-main.js --id s1 --listen 127.0.0.1:7301 --data ./data/s1
 *
 * MF_CLUSTER_TOKEN, if set, is required on every call (see grpc/cluster-token.ts).
 * Prints `ready <address>` on stdout once serving; exits cleanly when stdin closes or on SIGTERM.
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../../core/logger.js';
import { ReplicaHost } from './host.js';

export async function runStandalone(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { id: { type: 'string' }, listen: { type: 'string' }, data: { type: 'string' } },
  });
  if (!values.id || !values.listen || !values.data) {
    throw new Error('usage: standalone --id <node> --listen <host:port> --data <dir>');
  }
  const server = new grpc.Server();
  const host = await ReplicaHost.open({
    nodeId: values.id,
    dataDir: values.data,
    server,
    logger: createLogger({ nodeId: values.id }),
    clusterToken: process.env.MF_CLUSTER_TOKEN || undefined,
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(values.listen!, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.forceShutdown();
    await host.close();
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.stdout.write(`ready ${values.listen}\n`);
}
