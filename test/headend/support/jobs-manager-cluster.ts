import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../../core/paths.js';
import { type StableCluster, startStableCluster } from '../../cluster/support/test-cluster.js';

export type JobsManagerCluster = StableCluster;

/**
 * Three real nodes hosting the runtime's services plus the head-end's `jobs-manager`
 * singleton (needs `npx tsc -p tsconfig.build.json`), every partition with three replicas,
 * and an ActorProxy to call it.
 */
export function startJobsManagerCluster(defaultDeadlineMs: number): Promise<JobsManagerCluster> {
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
  return startStableCluster({
    manifests: [join(packageRoot, 'cluster', 'config', 'runtime-services.json'), manifestPath],
    defaultDeadlineMs,
    stableTimeoutMs: 120_000,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
}
