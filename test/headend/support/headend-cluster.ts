import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { packageRoot } from '../../../core/paths.js';
import {
  type StableCluster,
  startStableCluster,
  type TestCluster,
} from '../../cluster/support/test-cluster.js';

export type HeadendCluster = StableCluster;

/** The runtime's services plus every head-end service (actors/hosting/headend-services.json). */
export const headendManifests = [
  join(packageRoot, 'cluster', 'config', 'runtime-services.json'),
  join(packageRoot, 'actors', 'hosting', 'headend-services.json'),
];

/**
 * Three real nodes hosting the whole head-end (needs `npx tsc -p tsconfig.build.json`),
 * every partition with three replicas, and an ActorProxy to call it.
 */
export function startHeadendCluster(defaultDeadlineMs: number): Promise<HeadendCluster> {
  return startStableCluster({ manifests: headendManifests, defaultDeadlineMs, stableTimeoutMs: 180_000 });
}

export async function waitForThreeReplicas(cluster: TestCluster): Promise<void> {
  await cluster.waitStable(3, 180_000);
}

/** startHeadendCluster before the file's tests, stopped after them; read it through the getter. */
export function headendClusterPerFile(defaultDeadlineMs: number): () => HeadendCluster {
  let headend: HeadendCluster | undefined;
  beforeAll(async () => {
    headend = await startHeadendCluster(defaultDeadlineMs);
  }, 300_000);
  afterAll(async () => {
    await headend?.stop();
  });
  return () => {
    if (!headend) throw new Error('the head-end cluster did not start');
    return headend;
  };
}
