import { describe, expect, it } from 'vitest';
import type { Job } from '../../actors/domain/jobs.js';
import { type ActorAddress, ActorProxyPorts } from '../../actors/host/service-ports.js';
import type { JobsManagerEffect } from '../../actors/jobs-manager/state.js';
import { waitFor } from '../support/wait.js';
import { headendClusterPerFile } from './support/headend-cluster.js';

/**
 * The jobs manager on its durable reminder on three real nodes (needs
 * `npx tsc -p tsconfig.build.json`): a wall-clock deployment (day clock at rate 1) with
 * timings of seconds. No driver runs at all: nothing delivers the dispatched attempts to a
 * device, so the device never answers, and nothing ticks the jobs manager. Its reminders alone
 * must time each attempt out and retry it after its backoff, across a SIGKILL of its primary,
 * and record the job's outcome once.
 */
const headendCluster = headendClusterPerFile(60_000);
const second = 1_000;
const timings = { attemptTimeoutMs: 3 * second, backoffBaseMs: 2 * second, backoffMaxMs: 4 * second };

describe('the jobs manager on a durable reminder (rate 1) on a three-node cluster', () => {
  it('times out and retries an unanswered job with no driver tick, its primary SIGKILLed, and records its outcome once', {
    timeout: 300_000,
  }, async () => {
    const ports = new ActorProxyPorts(headendCluster().proxy);
    const address: ActorAddress<'jobs-manager'> = { service: 'jobs-manager', key: 'jm-reminder' };
    const wall0 = Date.now();
    await ports.deliver(
      address,
      {
        type: 'deliver',
        deliveries: [
          {
            commands: [
              {
                type: 'setClock',
                clock: { simAtMs: wall0, wallAtMs: wall0, rate: 1, minIntervalMs: 250 },
                timings,
              },
            ],
          },
        ],
      },
      wall0,
      'jm-reminder:set-clock',
    );
    const job: Job = {
      id: 'mr:C-unanswering:1',
      kind: 'meterReading',
      priority: 'normal',
      concentratorId: 'C-unanswering',
      meterSerials: ['M1'],
      params: { kind: 'meterReading' },
      submittedAtMs: Date.now(),
      deadlineMs: Date.now() + 10 * 60_000,
      maxAttempts: 3,
    };
    const submitted = await ports.deliver(
      address,
      { type: 'deliver', deliveries: [{ commands: [{ type: 'submit', job }] }] },
      Date.now(),
      'jm-reminder:submit',
    );
    expect(submitted.flatMap((e) => e.effects)).toEqual([
      expect.objectContaining({ type: 'dispatch', attempt: 1 }),
    ]);
    // A read during a failover may fail: the probes retry until the deadline.
    const inner = async () => {
      try {
        return (await ports.state(address)).inner;
      } catch {
        return undefined;
      }
    };
    await waitFor(
      async () => ((await inner())?.entries[job.id]?.attempts ?? 0) >= 2,
      'the reminder to time attempt 1 out and dispatch attempt 2',
      60_000,
      200,
    );
    const victim = (await headendCluster().cluster.configs()).get('jobs-manager/0')?.primary;
    expect(victim).toBeDefined();
    await headendCluster().cluster.signal(victim as string, 'SIGKILL');
    const outcome = await waitFor(
      async () => (await inner())?.outcomes[job.id],
      "the reminders on the new primary to time the last attempt out and record the job's outcome",
      120_000,
      250,
    );
    const successor = (await headendCluster().cluster.configs()).get('jobs-manager/0')?.primary;
    expect(successor).toBeDefined();
    expect(successor).not.toBe(victim);
    expect(outcome).toMatchObject({ status: 'failed', errorCode: 'MF_JOB_ATTEMPT_TIMEOUT', attempts: 3 });
    const state = await ports.state(address);
    // Nobody acknowledged: the outbox holds every effect the jobs manager decided, each once.
    const effects: JobsManagerEffect[] = state.outbox.flatMap((e) => e.effects);
    expect(
      effects.filter((e) => e.type === 'dispatch').map((e) => (e as { attempt: number }).attempt),
    ).toEqual([1, 2, 3]);
    expect(effects.filter((e) => e.type === 'outcome')).toHaveLength(1);
    // The ticks came from the reminder (source jobs-clock), none from a driver, and none is left due.
    expect(state.seen['jobs-clock']).toBeGreaterThan(wall0);
    expect(Object.keys(state.seen)).toEqual(['jobs-clock']);
    expect(state.inner.entries[job.id]).toBeUndefined();
    expect(state.inner.nextTickMs).toBeUndefined();
  });
});
