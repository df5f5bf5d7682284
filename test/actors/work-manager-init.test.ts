import { describe, expect, it } from 'vitest';
import type { Job, JobOutcome } from '../../actors/domain/jobs.js';
import { applyJobsManagerCommand, newJobsManager } from '../../actors/jobs-manager/state.js';
import {
  applyWorkManagerCommand,
  newWorkManager,
  nextDueMs,
  type WorkManagerConfig,
  type WorkManagerState,
} from '../../actors/work-manager/schedule.js';

/** Initialization is commissioned per concentrator: one job per concentrator's batch, not per meter. */

const t0 = Date.UTC(2026, 0, 1, 12);
const minute = 60_000;

const serials = (n: number, prefix = 'M') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

function commission(s: WorkManagerState, meters: string[], concentratorId = 'C', t = t0): Job[] {
  return meters.flatMap((meterSerial) =>
    applyWorkManagerCommand(
      s,
      { type: 'meterCommissioned', meterSerial, concentratorId, atMs: t },
      t,
    ).effects.map((e) => e.job),
  );
}
const tick = (s: WorkManagerState, t = t0): Job[] =>
  applyWorkManagerCommand(s, { type: 'tick' }, t).effects.map((e) => e.job);
const report = (s: WorkManagerState, outcome: JobOutcome, t = t0): Job[] =>
  applyWorkManagerCommand(s, { type: 'jobOutcome', outcome }, t).effects.map((e) => e.job);
const succeeded = (jobId: string, failedMeters?: string[]): JobOutcome => ({
  jobId,
  status: 'succeeded',
  attempts: 1,
  finishedAtMs: t0,
  ...(failedMeters ? { failedMeters } : {}),
});
const failed = (jobId: string): JobOutcome => ({
  jobId,
  status: 'failed',
  attempts: 3,
  finishedAtMs: t0,
  errorCode: 'MF_DEVICE_UNREACHABLE',
});
const wm = (config: Partial<WorkManagerConfig> = {}) =>
  newWorkManager({ collectionRetryDelayMs: 10 * minute, maxCollectionRetries: 3, ...config });

describe('work manager: initialization per concentrator', () => {
  it('20 meters of one concentrator commissioned in one tick make one job carrying all 20', () => {
    const s = wm();
    expect(commission(s, serials(20))).toEqual([]);
    const jobs = tick(s);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      id: 'init:C:1',
      kind: 'initialization',
      concentratorId: 'C',
      meterSerials: serials(20),
      params: { kind: 'initialization' },
    });
    expect(tick(s, t0 + minute)).toEqual([]);
  });

  it('300 meters on one concentrator make 2 jobs (250 + 50), each meter in exactly one', () => {
    const s = wm();
    const meters = serials(300);
    const early = commission(s, meters);
    // The first 250 fill a job and go at once; the rest wait for the tick.
    expect(early.map((j) => j.meterSerials.length)).toEqual([250]);
    const jobs = [...early, ...tick(s)];
    expect(jobs.map((j) => j.id)).toEqual(['init:C:1', 'init:C:2']);
    expect(jobs.map((j) => j.meterSerials.length)).toEqual([250, 50]);
    expect(jobs.flatMap((j) => j.meterSerials).sort()).toEqual([...meters].sort());
  });

  it('meters of several concentrators in one tick make one job per concentrator', () => {
    const s = wm();
    commission(s, serials(5, 'A'), 'CA');
    commission(s, serials(7, 'B'), 'CB');
    commission(s, serials(3, 'C'), 'CC');
    expect(
      tick(s)
        .map((j) => `${j.id}=${j.meterSerials.length}`)
        .sort(),
    ).toEqual(['init:CA:1=5', 'init:CB:1=7', 'init:CC:1=3']);
  });

  it('a meter commissioned while its concentrator job is queued gets the next job; one already in a job is ignored', () => {
    const s = wm();
    commission(s, serials(20));
    expect(tick(s).map((j) => j.id)).toEqual(['init:C:1']);
    // M5 is in init:C:1 (queued at the jobs manager): commissioning it again changes nothing.
    expect(commission(s, ['M5', 'M21'])).toEqual([]);
    expect(commission(s, ['M21'])).toEqual([]); // repeated while pending
    expect(tick(s, t0 + minute)).toEqual([
      expect.objectContaining({ id: 'init:C:2', meterSerials: ['M21'] }),
    ]);
  });

  it('a partial failure retries only the failed meters, as one job after the retry delay', () => {
    const s = wm();
    commission(s, serials(20));
    tick(s);
    expect(report(s, succeeded('init:C:1', ['M3', 'M7']))).toEqual([]);
    expect(tick(s, t0 + 9 * minute)).toEqual([]);
    const [retry] = tick(s, t0 + 10 * minute);
    expect(retry).toMatchObject({ id: 'init:C:1#r1', concentratorId: 'C', meterSerials: ['M3', 'M7'] });
    // M7 fails again: only M7 is asked the next time.
    report(s, succeeded('init:C:1#r1', ['M7']), t0 + 11 * minute);
    expect(tick(s, t0 + 21 * minute)).toEqual([
      expect.objectContaining({ id: 'init:C:1#r2', meterSerials: ['M7'] }),
    ]);
    report(s, succeeded('init:C:1#r2'), t0 + 22 * minute);
    expect(s.init.outstanding).toEqual({});
    expect(s.trackedCount).toBe(0);
  });

  it('a wholly failed job is retried for all its meters, and given up after maxCollectionRetries', () => {
    const s = wm({ maxCollectionRetries: 1 });
    commission(s, ['M1', 'M2']);
    tick(s);
    report(s, failed('init:C:1'));
    expect(tick(s, t0 + 10 * minute)).toEqual([
      expect.objectContaining({ id: 'init:C:1#r1', meterSerials: ['M1', 'M2'] }),
    ]);
    report(s, failed('init:C:1#r1'), t0 + 11 * minute);
    expect(tick(s, t0 + 30 * minute)).toEqual([]);
    // Given up: commissioning again starts a new batch.
    expect(s.init.outstanding).toEqual({});
    commission(s, ['M1'], 'C', t0 + 31 * minute);
    expect(tick(s, t0 + 31 * minute).map((j) => `${j.id}:${j.meterSerials.join(',')}`)).toEqual([
      'init:C:2:M1',
    ]);
  });

  it('the same commissioning delivered again after its initialization is ignored; a new commissioning is initialized', () => {
    const s = wm();
    commission(s, ['M1']);
    tick(s);
    report(s, succeeded('init:C:1'));
    expect(commission(s, ['M1'])).toEqual([]); // same atMs: a repeated delivery
    expect(tick(s, t0 + minute)).toEqual([]);
    commission(s, ['M1'], 'C', t0 + 2 * minute); // decommissioned and commissioned again
    expect(tick(s, t0 + 2 * minute)).toEqual([
      expect.objectContaining({ id: 'init:C:2', meterSerials: ['M1'] }),
    ]);
  });

  it('ignores meters an outcome names that were not in the job', () => {
    const s = wm();
    commission(s, ['M1', 'M2']);
    tick(s);
    report(s, succeeded('init:C:1', ['M2', 'X9']));
    expect(tick(s, t0 + 10 * minute).map((j) => j.meterSerials)).toEqual([['M2']]);
  });

  it('a tick replayed on the same state makes the same job ids, and the jobs manager ignores the duplicate', () => {
    const s = wm();
    commission(s, serials(20));
    const replica = structuredClone(s);
    const [first] = tick(s);
    const [again] = tick(replica);
    expect(again).toEqual(first);
    const jm = newJobsManager();
    expect(applyJobsManagerCommand(jm, { type: 'submit', job: first as Job }, t0).effects).toEqual([]);
    expect(applyJobsManagerCommand(jm, { type: 'submit', job: again as Job }, t0).effects).toEqual([
      { type: 'duplicateIgnored', jobId: 'init:C:1' },
    ]);
    expect(jm.queues.normal).toEqual(['init:C:1']);
  });

  it('nextDueMs is now while meters wait for their job', () => {
    const s = wm();
    commission(s, ['M1']);
    expect(nextDueMs(s, t0 + 5)).toBe(t0 + 5);
    tick(s, t0 + 5);
    expect(nextDueMs(s, t0 + 5)).toBeGreaterThan(t0 + 5);
  });

  it('a state written before batching (no init field, a per-meter job tracked) finishes the old job and batches new meters', () => {
    const s = wm();
    const legacy = structuredClone(s) as Partial<WorkManagerState>;
    delete legacy.init;
    const old = legacy as WorkManagerState;
    const perMeter: Job = {
      id: `init:M0:${t0}`,
      kind: 'initialization',
      priority: 'normal',
      concentratorId: 'C',
      meterSerials: ['M0'],
      params: { kind: 'initialization' },
      submittedAtMs: t0,
      deadlineMs: t0 + 3_600_000,
      maxAttempts: 3,
    };
    old.tracked[perMeter.id] = { job: perMeter, retry: 0 };
    old.trackedCount = 1;
    commission(old, ['M1', 'M2']);
    expect(tick(old).map((j) => j.id)).toEqual(['init:C:1']);
    report(old, succeeded(`init:M0:${t0}`));
    expect(old.tracked[`init:M0:${t0}`]).toBeUndefined();
  });

  it('refuses a per-job meter cap outside 1..1000', () => {
    expect(() => newWorkManager({ maxMetersPerInitJob: 0 })).toThrow(/maxMetersPerInitJob/);
    expect(() => newWorkManager({ maxMetersPerInitJob: 1001 })).toThrow(/maxMetersPerInitJob/);
  });
});
