import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeadendError } from '../../actors/domain/errors.js';
import { type JobKind, jobKinds } from '../../actors/domain/jobs.js';
import {
  applyJobsManagerCommand,
  type JobsManagerCommand,
  type JobsManagerEffect,
  type JobsManagerState,
  newJobsManager,
} from '../../actors/jobs-manager/state.js';
import { job, t0 } from './job-fixtures.js';

const limits = (n: number): Record<JobKind, number> =>
  Object.fromEntries(jobKinds.map((k) => [k, n])) as Record<JobKind, number>;

function run(state: JobsManagerState, command: JobsManagerCommand, nowMs = t0): JobsManagerEffect[] {
  return applyJobsManagerCommand(state, command, nowMs).effects;
}

const dispatched = (effects: JobsManagerEffect[]): string[] =>
  effects.flatMap((e) => (e.type === 'dispatch' ? [e.job.id] : []));
const outcomes = (effects: JobsManagerEffect[]) =>
  effects.flatMap((e) => (e.type === 'outcome' ? [e.outcome] : []));

describe('jobs manager queues', () => {
  it('dispatches high-priority jobs before normal ones submitted earlier', () => {
    const s = newJobsManager({ maxInFlightPerKind: limits(2) });
    run(s, { type: 'submit', job: job('n1') });
    run(s, { type: 'submit', job: job('n2') });
    run(s, { type: 'submit', job: job('h1', { priority: 'high' }) });
    expect(dispatched(run(s, { type: 'tick' }))).toEqual(['h1', 'n1']);
  });

  it('a high job blocked by its own concentrator limit does not hold back a normal job of another concentrator', () => {
    const s = newJobsManager();
    run(s, { type: 'submit', job: job('busy', { concentratorId: 'C1' }) });
    run(s, { type: 'tick' });
    run(s, { type: 'submit', job: job('h', { priority: 'high', concentratorId: 'C1' }) });
    run(s, { type: 'submit', job: job('n', { concentratorId: 'C2' }) });
    expect(dispatched(run(s, { type: 'tick' }))).toEqual(['n']);
  });

  it('respects the per-kind limit and the per-concentrator limit', () => {
    const s = newJobsManager({
      maxInFlightPerKind: { ...limits(10), loadProfile: 2 },
      maxInFlightPerConcentrator: 1,
    });
    for (const id of ['a', 'b', 'c']) run(s, { type: 'submit', job: job(id) });
    run(s, { type: 'submit', job: job('d', { kind: 'dailyClosure', concentratorId: 'C-a' }) });
    run(s, { type: 'submit', job: job('e', { kind: 'dailyClosure' }) });
    expect(dispatched(run(s, { type: 'tick' }))).toEqual(['a', 'b', 'e']);
    run(s, { type: 'attemptResult', jobId: 'a', attempt: 1, result: { ok: true } });
    expect(dispatched(run(s, { type: 'tick' }))).toEqual(['c', 'd']);
  });

  it('ignores a duplicate job id, while queued and after it finished', () => {
    const s = newJobsManager();
    expect(run(s, { type: 'submit', job: job('x') })).toEqual([]);
    expect(run(s, { type: 'submit', job: job('x') })).toEqual([{ type: 'duplicateIgnored', jobId: 'x' }]);
    run(s, { type: 'tick' });
    run(s, { type: 'attemptResult', jobId: 'x', attempt: 1, result: { ok: true } });
    expect(run(s, { type: 'submit', job: job('x') })).toEqual([{ type: 'duplicateIgnored', jobId: 'x' }]);
    expect(dispatched(run(s, { type: 'tick' }))).toEqual([]);
  });

  it('refuses a job when the queue is full and changes nothing', () => {
    const s = newJobsManager({ maxQueuedJobs: 2 });
    run(s, { type: 'submit', job: job('a') });
    run(s, { type: 'submit', job: job('b') });
    const before = structuredClone(s);
    expect(() => run(s, { type: 'submit', job: job('c') })).toThrow(HeadendError);
    expect(s).toEqual(before);
  });

  it.each([
    ['a kind that does not exist', { kind: 'teleport' }],
    ['params of another kind', { params: { kind: 'meterReading' } }],
    ['zero attempts', { maxAttempts: 0 }],
    ['an empty id', { id: '' }],
  ])('refuses a job with %s', (_name, overrides) => {
    const s = newJobsManager();
    expect(() => run(s, { type: 'submit', job: { ...job('z'), ...(overrides as object) } })).toThrow(
      expect.objectContaining({ code: 'MF_HEADEND_INVALID_INPUT' }),
    );
    expect(s.entries).toEqual({});
  });
});

describe('jobs manager retries and outcomes', () => {
  it('retries a failed attempt after exponential backoff: base, then double', () => {
    const s = newJobsManager({ backoffBaseMs: 1_000, backoffMaxMs: 60_000 });
    run(s, { type: 'submit', job: job('r', { maxAttempts: 3 }) });
    run(s, { type: 'tick' });
    const fail = {
      ok: false as const,
      retryable: true,
      errorCode: 'MF_DEVICE_UNREACHABLE',
      errorMessage: 'no answer',
    };
    run(s, { type: 'attemptResult', jobId: 'r', attempt: 1, result: fail }, t0);
    expect(dispatched(run(s, { type: 'tick' }, t0 + 999))).toEqual([]);
    expect(dispatched(run(s, { type: 'tick' }, t0 + 1_000))).toEqual(['r']);
    run(s, { type: 'attemptResult', jobId: 'r', attempt: 2, result: fail }, t0 + 1_000);
    expect(dispatched(run(s, { type: 'tick' }, t0 + 2_999))).toEqual([]);
    const third = run(s, { type: 'tick' }, t0 + 3_000);
    expect(third).toEqual([expect.objectContaining({ type: 'dispatch', attempt: 3 })]);
    const last = run(s, { type: 'attemptResult', jobId: 'r', attempt: 3, result: fail }, t0 + 3_000);
    expect(outcomes(last)).toEqual([
      expect.objectContaining({
        jobId: 'r',
        status: 'failed',
        attempts: 3,
        errorCode: 'MF_DEVICE_UNREACHABLE',
      }),
    ]);
  });

  it('fails with MF_JOB_DEADLINE naming the timeout when the next backoff would pass the deadline', () => {
    const s = newJobsManager({ backoffBaseMs: 10_000 });
    run(s, { type: 'submit', job: job('d', { deadlineMs: t0 + 5_000, maxAttempts: 5 }) });
    run(s, { type: 'tick' });
    const effects = run(
      s,
      {
        type: 'attemptResult',
        jobId: 'd',
        attempt: 1,
        result: { ok: false, retryable: true, errorCode: 'E', errorMessage: 'x' },
      },
      t0 + 100,
    );
    const [outcome] = outcomes(effects);
    expect(outcome).toMatchObject({ status: 'failed', errorCode: 'MF_JOB_DEADLINE' });
    expect(outcome?.errorMessage).toMatch(/timed out/);
  });

  it('fails a queued job whose deadline passed before it could start', () => {
    const s = newJobsManager();
    run(s, { type: 'submit', job: job('late', { deadlineMs: t0 + 10 }) });
    expect(outcomes(run(s, { type: 'tick' }, t0 + 10))).toEqual([
      expect.objectContaining({ jobId: 'late', errorCode: 'MF_JOB_DEADLINE', attempts: 0 }),
    ]);
  });

  it('does not retry a non-retryable failure', () => {
    const s = newJobsManager();
    run(s, { type: 'submit', job: job('n', { maxAttempts: 5 }) });
    run(s, { type: 'tick' });
    const effects = run(s, {
      type: 'attemptResult',
      jobId: 'n',
      attempt: 1,
      result: { ok: false, retryable: false, errorCode: 'MF_DEVICE_CONTROL_FAILED', errorMessage: 'refused' },
    });
    expect(outcomes(effects)).toEqual([expect.objectContaining({ status: 'failed', attempts: 1 })]);
  });

  it('times out an attempt with no result and ignores that attempt answering late', () => {
    const s = newJobsManager({ attemptTimeoutMs: 1_000, backoffBaseMs: 10 });
    run(s, { type: 'submit', job: job('t') });
    run(s, { type: 'tick' });
    expect(run(s, { type: 'tick' }, t0 + 1_000)).toEqual([]);
    expect(s.entries.t?.lastErrorCode).toBe('MF_JOB_ATTEMPT_TIMEOUT');
    expect(dispatched(run(s, { type: 'tick' }, t0 + 1_010))).toEqual(['t']);
    expect(
      run(s, { type: 'attemptResult', jobId: 't', attempt: 1, result: { ok: true } }, t0 + 1_020),
    ).toEqual([]);
    expect(
      outcomes(run(s, { type: 'attemptResult', jobId: 't', attempt: 2, result: { ok: true } }, t0 + 1_030)),
    ).toEqual([expect.objectContaining({ jobId: 't', status: 'succeeded', attempts: 2 })]);
  });

  it('records an outcome once: a second success report changes nothing', () => {
    const s = newJobsManager();
    run(s, { type: 'submit', job: job('o') });
    run(s, { type: 'tick' });
    expect(
      outcomes(
        run(s, { type: 'attemptResult', jobId: 'o', attempt: 1, result: { ok: true, oldestCollectedMs: 5 } }),
      ),
    ).toEqual([expect.objectContaining({ status: 'succeeded', oldestCollectedMs: 5 })]);
    const before = structuredClone(s);
    expect(run(s, { type: 'attemptResult', jobId: 'o', attempt: 1, result: { ok: true } })).toEqual([]);
    expect(s).toEqual(before);
  });

  it('forgets finished jobs after the retention period', () => {
    const s = newJobsManager({ outcomeRetentionMs: 1_000 });
    run(s, { type: 'submit', job: job('p') });
    run(s, { type: 'tick' });
    run(s, { type: 'attemptResult', jobId: 'p', attempt: 1, result: { ok: true } });
    run(s, { type: 'tick' }, t0 + 1_001);
    expect(s.outcomes.p).toBeUndefined();
  });
});

/** The tick's indexes agree with the entries they summarise (bounds may be early, never late). */
function expectIndexesConsistent(s: JobsManagerState): void {
  const queued = Object.values(s.entries).filter((e) => e.phase === 'queued');
  for (const kind of jobKinds)
    expect(s.queuedByKind[kind]).toBe(queued.filter((e) => e.job.kind === kind).length);
  for (const e of queued) expect(s.nextQueuedDeadlineMs).toBeLessThanOrEqual(e.job.deadlineMs);
  for (const e of Object.values(s.entries))
    if (e.phase === 'inFlight')
      expect(s.nextAttemptTimeoutMs).toBeLessThanOrEqual((e.dispatchedAtMs ?? 0) + s.config.attemptTimeoutMs);
  expect(new Set(s.outcomeOrder)).toEqual(new Set(Object.keys(s.outcomes)));
}

describe('jobs manager properties', () => {
  type Op =
    | { op: 'submit'; id: number; high: boolean; conc: number; kind: number; attempts: number }
    | { op: 'result'; id: number; ok: boolean; retryable: boolean; stale: boolean }
    | { op: 'tick'; advanceMs: number };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      op: fc.constant('submit' as const),
      id: fc.integer({ min: 0, max: 25 }),
      high: fc.boolean(),
      conc: fc.integer({ min: 0, max: 4 }),
      kind: fc.integer({ min: 0, max: 4 }),
      attempts: fc.integer({ min: 1, max: 4 }),
    }),
    fc.record({
      op: fc.constant('result' as const),
      id: fc.integer({ min: 0, max: 25 }),
      ok: fc.boolean(),
      retryable: fc.boolean(),
      stale: fc.boolean(),
    }),
    fc.record({ op: fc.constant('tick' as const), advanceMs: fc.integer({ min: 0, max: 4_000 }) }),
  );

  it('never exceeds limits, dispatches high first, and records each job outcome exactly once', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const kindLimit = { ...limits(3), loadProfile: 2 };
        const s = newJobsManager({
          maxInFlightPerKind: kindLimit,
          maxInFlightPerConcentrator: 1,
          backoffBaseMs: 500,
          attemptTimeoutMs: 3_000,
        });
        let now = t0;
        const submitted = new Set<string>();
        const outcomeCount = new Map<string, number>();
        const record = (effects: JobsManagerEffect[]) => {
          for (const o of outcomes(effects)) outcomeCount.set(o.jobId, (outcomeCount.get(o.jobId) ?? 0) + 1);
        };
        const check = (effects: JobsManagerEffect[]) => {
          record(effects);
          const byKind = new Map<string, number>();
          const byConc = new Map<string, number>();
          for (const entry of Object.values(s.entries)) {
            if (entry.phase !== 'inFlight') continue;
            byKind.set(entry.job.kind, (byKind.get(entry.job.kind) ?? 0) + 1);
            byConc.set(entry.job.concentratorId, (byConc.get(entry.job.concentratorId) ?? 0) + 1);
          }
          for (const kind of jobKinds) {
            expect(byKind.get(kind) ?? 0).toBeLessThanOrEqual(kindLimit[kind]);
            expect(s.inFlightByKind[kind]).toBe(byKind.get(kind) ?? 0);
          }
          for (const n of byConc.values()) expect(n).toBeLessThanOrEqual(1);
          expectIndexesConsistent(s);
          // High first: a normal job dispatched in this pass means no high job that could have
          // used a slot was left waiting.
          const normalDispatched = effects.some((e) => e.type === 'dispatch' && e.job.priority === 'normal');
          if (normalDispatched) {
            for (const id of s.queues.high) {
              const entry = s.entries[id];
              if (!entry || entry.notBeforeMs > now) continue;
              const kindFull = s.inFlightByKind[entry.job.kind] >= kindLimit[entry.job.kind];
              const concFull = (s.inFlightByConcentrator[entry.job.concentratorId] ?? 0) >= 1;
              expect(kindFull || concFull).toBe(true);
            }
          }
        };
        for (const op of ops) {
          if (op.op === 'submit') {
            const id = `j${op.id}`;
            const j = job(id, {
              priority: op.high ? 'high' : 'normal',
              concentratorId: `C${op.conc}`,
              kind: jobKinds[op.kind],
              maxAttempts: op.attempts,
              deadlineMs: now + 20_000,
            });
            const effects = run(
              s,
              { type: 'submit', job: { ...j, params: job('x', { kind: j.kind }).params } },
              now,
            );
            if (submitted.has(id)) expect(effects).toEqual([{ type: 'duplicateIgnored', jobId: id }]);
            submitted.add(id);
          } else if (op.op === 'result') {
            const entry = s.entries[`j${op.id}`];
            const attempt = entry ? entry.attempts - (op.stale ? 1 : 0) : 1;
            const result = op.ok
              ? { ok: true as const }
              : { ok: false as const, retryable: op.retryable, errorCode: 'E', errorMessage: 'e' };
            check(run(s, { type: 'attemptResult', jobId: `j${op.id}`, attempt, result }, now));
          } else {
            now += op.advanceMs;
            check(run(s, { type: 'tick' }, now));
          }
        }
        // Drain: answer every in-flight attempt with success and tick past every deadline.
        for (let i = 0; i < 200 && Object.keys(s.entries).length > 0; i++) {
          now += 1_000;
          for (const entry of Object.values(s.entries))
            if (entry.phase === 'inFlight')
              check(
                run(
                  s,
                  {
                    type: 'attemptResult',
                    jobId: entry.job.id,
                    attempt: entry.attempts,
                    result: { ok: true },
                  },
                  now,
                ),
              );
          check(run(s, { type: 'tick' }, now));
        }
        expect(Object.keys(s.entries)).toEqual([]);
        for (const id of submitted) expect(outcomeCount.get(id)).toBe(1);
      }),
      { numRuns: 300 },
    );
  });
});
