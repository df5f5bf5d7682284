import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorProxy } from '../../../cluster/actors/actor-proxy.js';
import { loadManifests, partitionIds } from '../../../cluster/config/manifest.js';
import { packageRoot } from '../../../core/paths.js';
import { TestCluster } from '../../cluster/support/test-cluster.js';
import { waitFor } from '../../support/wait.js';

export type JobsManagerCluster = { cluster: TestCluster; proxy: ActorProxy; stop(): Promise<void> };

/**
 * Three real nodes hosting the runtime's services plus the head-end's `jobs-manager`
 * singleton (needs `npx tsc -p tsconfig.build.json`), every partition with three replicas,
 * and an ActorProxy to call it.
 */
export async function startJobsManagerCluster(defaultDeadlineMs: number): Promise<JobsManagerCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-headend-jm-'));
  const manifestPath = join(dir, 'headend.json');
  writeFileSync(
    manifestPath,
    JSON.stringify({
      services: [
        {
          name: 'jobs-manager',
          partitioning: { kind: 'singleton' },
          actor: { module: 'actors/hosting/services.js', export: 'jobsManagerActor' },
        },
      ],
    }),
  );
  const runtimeManifest = join(packageRoot, 'cluster', 'config', 'runtime-services.json');
  const services = loadManifests([runtimeManifest, manifestPath]);
  const cluster = await TestCluster.start({
    nodes: 3,
    env: { MF_MANIFESTS: `${runtimeManifest},${manifestPath}` },
  });
  let proxy: ActorProxy | undefined;
  const stop = async (): Promise<void> => {
    await proxy?.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const expected = services.flatMap((s) => partitionIds(s));
    await waitFor(
      async () => {
        const configs = await cluster.configs();
        return expected.every((p) => {
          const c = configs.get(p);
          return c && c.status === 'ok' && c.primary && c.replicas.length === 3 && c.building.length === 0;
        });
      },
      'every partition to have three replicas',
      120_000,
      250,
    );
    proxy = new ActorProxy({ client: cluster.client, cluster: 'meterfabric', services, defaultDeadlineMs });
    await proxy.start();
    return { cluster, proxy, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
