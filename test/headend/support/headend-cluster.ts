import { join } from 'node:path';
import { ActorProxy } from '../../../cluster/actors/actor-proxy.js';
import { loadManifests, partitionIds } from '../../../cluster/config/manifest.js';
import { packageRoot } from '../../../core/paths.js';
import { TestCluster } from '../../cluster/support/test-cluster.js';
import { waitFor } from '../../support/wait.js';

export type HeadendCluster = { cluster: TestCluster; proxy: ActorProxy; stop(): Promise<void> };

/** The runtime's services plus every head-end service (actors/hosting/headend-services.json). */
export const headendManifests = [
  join(packageRoot, 'cluster', 'config', 'runtime-services.json'),
  join(packageRoot, 'actors', 'hosting', 'headend-services.json'),
];

/**
 * Three real nodes hosting the whole head-end (needs `npx tsc -p tsconfig.build.json`),
 * every partition with three replicas, and an ActorProxy to call it.
 */
export async function startHeadendCluster(defaultDeadlineMs: number): Promise<HeadendCluster> {
  const services = loadManifests(headendManifests);
  const cluster = await TestCluster.start({ nodes: 3, env: { MF_MANIFESTS: headendManifests.join(',') } });
  let proxy: ActorProxy | undefined;
  const stop = async (): Promise<void> => {
    await proxy?.close();
    await cluster.stop();
  };
  try {
    await waitForThreeReplicas(cluster);
    proxy = new ActorProxy({ client: cluster.client, cluster: 'meterfabric', services, defaultDeadlineMs });
    await proxy.start();
    return { cluster, proxy, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function waitForThreeReplicas(cluster: TestCluster): Promise<void> {
  const expected = loadManifests(headendManifests).flatMap((s) => partitionIds(s));
  await waitFor(
    async () => {
      const configs = await cluster.configs();
      return expected.every((p) => {
        const c = configs.get(p);
        return c && c.status === 'ok' && c.primary && c.replicas.length === 3 && c.building.length === 0;
      });
    },
    'every partition to have three replicas',
    180_000,
    250,
  );
}
