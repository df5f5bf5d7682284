import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../actors/domain/jobs.js';
import type { JobsManagerEffect } from '../../actors/jobs-manager/state.js';
import type { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import type { TestCluster } from '../cluster/support/test-cluster.js';
import { waitFor } from '../support/wait.js';
import { type JobsManagerCluster, startJobsManagerCluster } from './support/jobs-manager-cluster.js';

/**
 * The jobs manager hosted on a real three-node cluster (needs `npx tsc -p tsconfig.build.json`):
 * its queue, in-flight attempts and recorded outcomes survive SIGKILL of its primary, and an
 * outcome is still recorded exactly once.
 */
let cluster: TestCluster;
let proxy: ActorProxy;
let jobsManagerCluster: JobsManagerCluster | undefined;

beforeAll(async () => {
  jobsManagerCluster = await startJobsManagerCluster(60_000);
  ({ cluster, proxy } = jobsManagerCluster);
}, 180_000);

afterAll(async () => {
  await jobsManagerCluster?.stop();
});

const now = Date.now();
const job = (id: string, priority: 'high' | 'normal' = 'normal'): Job => ({
  id,
  kind: 'loadProfile',
  priority,
  concentratorId: `C-${id}`,
  meterSerials: [],
  params: { kind: 'loadProfile' },
  submittedAtMs: now,
  deadlineMs: now + 3_600_000,
  maxAttempts: 3,
});

async function command(cmd: unknown, idempotencyKey: string): Promise<JobsManagerEffect[]> {
  const result = await proxy.call<{ effects: JobsManagerEffect[] }>(
    'jobs-manager',
    'jm',
    'command',
    { command: cmd },
    {
      idempotencyKey,
    },
  );
  return result.effects;
}

describe('jobs manager on the cluster', () => {
  it('keeps queued and in-flight jobs across SIGKILL of its primary and records each outcome once', {
    timeout: 240_000,
  }, async () => {
    await command({ type: 'submit', job: job('a') }, 'submit-a');
    await command({ type: 'submit', job: job('b', 'high') }, 'submit-b');
    await command({ type: 'submit', job: job('c') }, 'submit-c');
    const dispatched = (await command({ type: 'tick' }, 'tick-1')).flatMap((e) =>
      e.type === 'dispatch' ? [e.job.id] : [],
    );
    expect(dispatched).toEqual(['b', 'a', 'c']);
    const first = await command(
      { type: 'attemptResult', jobId: 'a', attempt: 1, result: { ok: true } },
      'result-a',
    );
    expect(first.filter((e) => e.type === 'outcome')).toHaveLength(1);
    // A retried call with the same idempotency key is answered from the dedup table, not re-run.
    expect(
      await command({ type: 'attemptResult', jobId: 'a', attempt: 1, result: { ok: true } }, 'result-a'),
    ).toEqual(first);

    const victim = (await cluster.configs()).get('jobs-manager/0')!.primary!;
    await cluster.signal(victim, 'SIGKILL');
    await waitFor(
      async () => {
        const c = (await cluster.configs()).get('jobs-manager/0');
        return c?.primary && c.primary !== victim ? c : null;
      },
      'a new jobs-manager primary',
      90_000,
      250,
    );

    // The outcome of a was recorded once: neither a late answer nor a resubmission changes it.
    expect(
      await command({ type: 'attemptResult', jobId: 'a', attempt: 1, result: { ok: true } }, 'late-a'),
    ).toEqual([]);
    expect(await command({ type: 'submit', job: job('a') }, 'resubmit-a')).toEqual([
      { type: 'duplicateIgnored', jobId: 'a' },
    ]);
    // b and c were in flight on the old primary: their answers complete them on the new one.
    const b = await command(
      { type: 'attemptResult', jobId: 'b', attempt: 1, result: { ok: true } },
      'result-b',
    );
    expect(b).toEqual([
      expect.objectContaining({
        type: 'outcome',
        outcome: expect.objectContaining({ jobId: 'b', status: 'succeeded', attempts: 1 }),
      }),
    ]);
    const c = await command(
      {
        type: 'attemptResult',
        jobId: 'c',
        attempt: 1,
        result: { ok: false, retryable: true, errorCode: 'MF_DEVICE_UNREACHABLE', errorMessage: 'x' },
      },
      'result-c',
    );
    expect(c).toEqual([]);
  });
});
