import { describe, expect, it } from 'vitest';
import { type JobKind, jobKinds } from '../../actors/domain/jobs.js';
import {
  applyJobsManagerCommand,
  type JobsManagerCommand,
  type JobsManagerEffect,
  type JobsManagerState,
  newJobsManager,
  queuedCount,
} from '../../actors/jobs-manager/state.js';
import { job, t0 } from './job-fixtures.js';

/**
 * The jobs manager's indexes (outcome order, queued count per kind, next timeout and next
 * deadline) let a tick skip full scans; these tests pin the behaviour those shortcuts must not
 * change, and the bound on remembered outcomes.
 */

const limits = (n: number): Record<JobKind, number> =>
  Object.fromEntries(jobKinds.map((k) => [k, n])) as Record<JobKind, number>;

function run(state: JobsManagerState, command: JobsManagerCommand, nowMs = t0): JobsManagerEffect[] {
  return applyJobsManagerCommand(state, command, nowMs).effects;
}

const dispatched = (effects: JobsManagerEffect[]): string[] =>
  effects.flatMap((e) => (e.type === 'dispatch' ? [e.job.id] : []));
const outcomeIds = (effects: JobsManagerEffect[]): string[] =>
  effects.flatMap((e) => (e.type === 'outcome' ? [e.outcome.jobId] : []));

describe('jobs manager scans', () => {
  it('fails a queued job at its deadline even while its kind has no free slot', () => {
    const s = newJobsManager({ maxInFlightPerKind: { ...limits(5), loadProfile: 1 } });
    run(s, { type: 'submit', job: job('running', { deadlineMs: t0 + 60_000 }) });
    run(s, { type: 'submit', job: job('waiting', { deadlineMs: t0 + 1_000 }) });
    expect(dispatched(run(s, { type: 'tick' }))).toEqual(['running']);
    expect(run(s, { type: 'tick' }, t0 + 999)).toEqual([]);
    const effects = run(s, { type: 'tick' }, t0 + 1_000);
    expect(outcomeIds(effects)).toEqual(['waiting']);
    expect(s.queues.normal).toEqual([]);
    expect(s.queuedByKind.loadProfile).toBe(0);
  });

  it('a saturated kind does not hold back queued jobs of another kind behind it', () => {
    const s = newJobsManager({ maxInFlightPerKind: { ...limits(5), loadProfile: 1 } });
    for (let i = 0; i < 50; i++) run(s, { type: 'submit', job: job(`lp${i}`) });
    run(s, { type: 'submit', job: job('dc', { kind: 'dailyClosure' }) });
    expect(dispatched(run(s, { type: 'tick' }))).toEqual(['lp0', 'dc']);
    run(s, { type: 'attemptResult', jobId: 'lp0', attempt: 1, result: { ok: true } });
    expect(dispatched(run(s, { type: 'tick' }))).toEqual(['lp1']);
    expect(s.queues.normal).toEqual(Array.from({ length: 48 }, (_, i) => `lp${i + 2}`));
  });

  it('times out an attempt dispatched after an earlier one finished', () => {
    const s = newJobsManager({ attemptTimeoutMs: 1_000 });
    run(s, { type: 'submit', job: job('a') });
    run(s, { type: 'tick' }, t0);
    run(s, { type: 'attemptResult', jobId: 'a', attempt: 1, result: { ok: true } }, t0 + 10);
    run(s, { type: 'submit', job: job('b') }, t0 + 500);
    run(s, { type: 'tick' }, t0 + 500);
    run(s, { type: 'tick' }, t0 + 1_000); // a's timeout instant: nothing due, b's is later
    expect(s.entries.b?.phase).toBe('inFlight');
    run(s, { type: 'tick' }, t0 + 1_500);
    expect(s.entries.b).toMatchObject({ phase: 'backoff', lastErrorCode: 'MF_JOB_ATTEMPT_TIMEOUT' });
  });

  it('keeps retries waiting for their backoff out of the queues, by due instant, until they are due', () => {
    // 1,000 concentrators unreachable at once: every job fails its first attempt.
    const s = newJobsManager({ backoffBaseMs: 5_000, maxInFlightPerKind: limits(2_000) });
    for (let i = 0; i < 1_000; i++) run(s, { type: 'submit', job: job(`lp${i}`) });
    expect(dispatched(run(s, { type: 'tick' }))).toHaveLength(1_000);
    const failure = {
      ok: false as const,
      retryable: true,
      errorCode: 'MF_DEVICE_UNREACHABLE',
      errorMessage: 'x',
    };
    for (let i = 0; i < 1_000; i++)
      run(s, { type: 'attemptResult', jobId: `lp${i}`, attempt: 1, result: failure }, t0 + 1_000 + (i % 7));
    // Nothing left in the queues for a tick to walk past; the retries wait apart, in due order.
    expect(s.queues.normal).toEqual([]);
    expect(s.backoff).toHaveLength(1_000);
    const due = s.backoff.map((id) => s.entries[id]?.notBeforeMs ?? 0);
    expect(due).toEqual([...due].sort((a, b) => a - b));
    expect(dispatched(run(s, { type: 'tick' }, t0 + 6_000 - 1))).toEqual([]);
    // Due at t0 + 6,000 .. 6,006: each joins the back of the queue when due, and is dispatched.
    const first = dispatched(run(s, { type: 'tick' }, t0 + 6_000));
    expect(first.sort()).toEqual(
      Array.from({ length: 1_000 }, (_, i) => `lp${i}`)
        .filter((_, i) => i % 7 === 0)
        .sort(),
    );
    expect(dispatched(run(s, { type: 'tick' }, t0 + 6_006))).toHaveLength(1_000 - first.length);
    expect(s.backoff).toEqual([]);
  });

  it('parks jobs whose concentrator is busy until its attempt ends; one past its deadline then fails', () => {
    const s = newJobsManager({ maxInFlightPerConcentrator: 1 });
    run(s, { type: 'submit', job: job('lp', { concentratorId: 'C1' }) });
    run(s, { type: 'submit', job: job('init', { kind: 'initialization', concentratorId: 'C1' }) });
    run(s, {
      type: 'submit',
      job: job('late', { kind: 'dailyClosure', concentratorId: 'C1', deadlineMs: t0 + 500 }),
    });
    run(s, { type: 'submit', job: job('other', { concentratorId: 'C2' }) });
    expect(dispatched(run(s, { type: 'tick' }))).toEqual(['lp', 'other']);
    // Nothing left in the queue to walk past: the two C1 jobs wait apart.
    expect(s.queues.normal).toEqual([]);
    expect(s.parked).toEqual({ C1: ['init', 'late'] });
    expect(queuedCount(s)).toBe(2);
    const effects = run(
      s,
      { type: 'attemptResult', jobId: 'lp', attempt: 1, result: { ok: true } },
      t0 + 1_000,
    );
    expect(outcomeIds(effects)).toEqual(['lp']);
    const next = run(s, { type: 'tick' }, t0 + 1_000);
    expect(dispatched(next)).toEqual(['init']);
    expect(outcomeIds(next)).toEqual(['late']);
    expect(s.parked).toEqual({});
  });

  it('counts retries in backoff against maxQueuedJobs', () => {
    const s = newJobsManager({ maxQueuedJobs: 1 });
    run(s, { type: 'submit', job: job('a') });
    run(s, { type: 'tick' });
    run(s, {
      type: 'attemptResult',
      jobId: 'a',
      attempt: 1,
      result: { ok: false, retryable: true, errorCode: 'E', errorMessage: 'e' },
    });
    expect(s.backoff).toEqual(['a']);
    expect(() => run(s, { type: 'submit', job: job('b') })).toThrow(
      expect.objectContaining({ code: 'MF_HEADEND_QUEUE_FULL' }),
    );
  });
});

describe('jobs manager bounded outcomes', () => {
  it('remembers at most maxRememberedOutcomes outcomes, forgetting the oldest first', () => {
    const s = newJobsManager({ maxRememberedOutcomes: 32, maxInFlightPerConcentrator: 1 });
    for (let i = 0; i < 100; i++) {
      const id = `j${String(i).padStart(3, '0')}`;
      run(s, { type: 'submit', job: job(id) }, t0 + i);
      run(s, { type: 'tick' }, t0 + i);
      run(s, { type: 'attemptResult', jobId: id, attempt: 1, result: { ok: true } }, t0 + i);
      expect(Object.keys(s.outcomes).length).toBeLessThanOrEqual(32);
      expect(s.outcomeOrder.length).toBe(Object.keys(s.outcomes).length);
    }
    expect(s.outcomes.j099).toBeDefined();
    expect(s.outcomes.j000).toBeUndefined();
    // A remembered one is still a duplicate; a forgotten one is accepted again.
    expect(run(s, { type: 'submit', job: job('j099') })).toEqual([
      { type: 'duplicateIgnored', jobId: 'j099' },
    ]);
    expect(run(s, { type: 'submit', job: job('j000') })).toEqual([]);
  });

  it('keeps an outcome for the whole retention period', () => {
    const s = newJobsManager({ outcomeRetentionMs: 1_600 });
    run(s, { type: 'submit', job: job('p') });
    run(s, { type: 'tick' });
    run(s, { type: 'attemptResult', jobId: 'p', attempt: 1, result: { ok: true } });
    for (let dt = 0; dt <= 1_600; dt += 50) {
      run(s, { type: 'tick' }, t0 + dt);
      expect(s.outcomes.p).toBeDefined();
    }
    run(s, { type: 'tick' }, t0 + 1_601 + 100);
    expect(s.outcomes.p).toBeUndefined();
    expect(s.outcomeOrder).toEqual([]);
  });
});

describe('jobs manager state without indexes', () => {
  it('re-indexes a state written before the indexes existed and still times out and dedups', () => {
    const s = newJobsManager({ attemptTimeoutMs: 1_000 });
    run(s, { type: 'submit', job: job('inflight') });
    run(s, { type: 'tick' });
    run(s, { type: 'submit', job: job('done', { concentratorId: 'C-x' }) });
    run(s, { type: 'tick' });
    run(s, { type: 'attemptResult', jobId: 'done', attempt: 1, result: { ok: true } });
    run(s, { type: 'submit', job: job('queued', { concentratorId: 'C-inflight' }) });
    const legacy = JSON.parse(JSON.stringify(s)) as Partial<JobsManagerState>;
    delete legacy.outcomeOrder;
    delete legacy.queuedByKind;
    delete legacy.nextAttemptTimeoutMs;
    delete legacy.nextQueuedDeadlineMs;
    const old = legacy as JobsManagerState;
    expect(run(old, { type: 'submit', job: job('done') })).toEqual([
      { type: 'duplicateIgnored', jobId: 'done' },
    ]);
    expect(old.queuedByKind.loadProfile).toBe(1);
    expect(old.outcomeOrder).toEqual(['done']);
    run(old, { type: 'tick' }, t0 + 1_000);
    expect(old.entries.inflight?.lastErrorCode).toBe('MF_JOB_ATTEMPT_TIMEOUT');
  });
});
