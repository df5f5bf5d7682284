import { join } from 'node:path';
import { type LaunchedNode, launchNode } from '../../cluster/node/node-launcher.js';

/**
 * Launches the benches' three-node cluster, n1..n3, one after another: node i listens on
 * 127.0.0.1:ports[i], keeps its data in base/<id> and its log in base/<id>.log, and gets
 * env(i). Each node is pushed onto `into` as soon as it is up, so the caller's `finally`
 * stops the ones that started even when a later one fails to.
 */
export async function launchThreeNodes(options: {
  base: string;
  etcd: string;
  ports: readonly number[];
  into: LaunchedNode[];
  env: (index: number) => Record<string, string>;
}): Promise<void> {
  for (const [i, id] of ['n1', 'n2', 'n3'].entries())
    options.into.push(
      await launchNode({
        id,
        listen: `127.0.0.1:${options.ports[i]}`,
        dataDir: join(options.base, id),
        etcd: options.etcd,
        logPath: join(options.base, `${id}.log`),
        env: options.env(i),
        tiedToLauncher: true, // a crashed bench leaves no node holding ports and leases
      }),
    );
}
