/**
 * A launcher for test/cluster/test-cluster-tie.int.test.ts, run by vite-node in a process of
 * its own: starts a one-node TestCluster, prints its PIDs and folders as one JSON line, and
 * stays until it is killed (never stopping the cluster itself).
 */
import { TestCluster } from './test-cluster.js';

const cluster = await TestCluster.start({
  nodes: 1,
  env: { MF_INITIAL_CLUSTER_SIZE: '1', MF_LOG_LEVEL: 'warn' },
});
console.log(
  JSON.stringify({
    nodePid: cluster.pid('n1'),
    etcdPid: cluster.etcd.pid,
    dirs: [cluster.baseDir, cluster.etcd.dataDir],
  }),
);
setInterval(() => undefined, 60_000);
