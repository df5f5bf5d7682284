import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobsManagerEffect } from '../../actors/jobs-manager/state.js';
import type { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import type { TestCluster } from '../cluster/support/test-cluster.js';
import { hourMs, keyOfRouted, originMs, runUntil, setUpDay, truthOf } from './day-fixture.js';
import { type JobsManagerCluster, startJobsManagerCluster } from './support/jobs-manager-cluster.js';

/**
 * A simulated day whose jobs manager is the cluster's `jobs-manager` actor (three real nodes,
 * needs `npx tsc -p tsconfig.build.json`); its primary is SIGKILLed at midday. The other
 * services run in the test process. Every value the field produced is still delivered once.
 */
let cluster: TestCluster;
let proxy: ActorProxy;
let jobsManagerCluster: JobsManagerCluster | undefined;

beforeAll(async () => {
  jobsManagerCluster = await startJobsManagerCluster(90_000);
  ({ cluster, proxy } = jobsManagerCluster);
}, 180_000);

afterAll(async () => {
  await jobsManagerCluster?.stop();
});

describe('a simulated day with the jobs manager on the cluster', () => {
  it('delivers every produced value exactly once although the jobs-manager primary is SIGKILLed mid-day', {
    timeout: 600_000,
  }, async () => {
    const run = setUpDay({
      concentrators: 3,
      meters: 2,
      outageChance: 0.5,
      provision: false,
      jobsManagerPort: {
        call: async (command, nowMs, callKey) =>
          (
            await proxy.call<{ effects: JobsManagerEffect[] }>(
              'jobs-manager',
              'day',
              'command',
              { command, atMs: nowMs },
              {
                idempotencyKey: `day-${callKey}`,
              },
            )
          ).effects,
      },
    });
    for (const command of run.fleet.provisioning()) run.headend.applyRegistry(command);
    await runUntil(run, originMs + 12 * hourMs, 15 * 60_000);

    const victim = (await cluster.configs()).get('jobs-manager/0')!.primary!;
    await cluster.signal(victim, 'SIGKILL');
    const endMs = originMs + 25 * hourMs;
    run.clock.set(originMs + 12 * hourMs + 15 * 60_000);
    await runUntil(run, endMs, 15 * 60_000);
    const successor = (await cluster.configs()).get('jobs-manager/0')!.primary;
    expect(successor).not.toBe(victim);

    const truth = truthOf(run, endMs);
    const seen = new Map<string, number>();
    const extra: string[] = [];
    for (const r of run.routed) {
      const item = keyOfRouted(r);
      if (!item) continue;
      seen.set(item.key, (seen.get(item.key) ?? 0) + 1);
      if (truth.get(item.key) !== item.value) extra.push(`${item.key}=${item.value}`);
    }
    const missing = [...truth.keys()].filter((k) => !seen.has(k));
    const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    expect({ missing, twice, extra }).toEqual({ missing: [], twice: [], extra: [] });
    expect(truth.size).toBeGreaterThan(150);
    // Job outcomes arrive once per job id even across the failover.
    const ids = run.headend.outcomes.map((o) => o.jobId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
