import { afterAll, beforeAll } from 'vitest';
import { TestCluster } from './test-cluster.js';

/** A three-node cluster, stable, for the file's tests (stopped after them); read it through the getter. */
export function stableClusterPerFile(): () => TestCluster {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3 });
    await cluster.waitStable(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error('the cluster did not start');
    return cluster;
  };
}
