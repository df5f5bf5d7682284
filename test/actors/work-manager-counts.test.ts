import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../actors/domain/jobs.js';
import {
  applyWorkManagerCommand,
  newWorkManager,
  nextDueMs,
  type WorkManagerState,
} from '../../actors/work-manager/schedule.js';

/**
 * The work manager counts what it tracks and remembers its next retry instead of scanning
 * every tracked job per submitted job and per tick; these pin the bound and the retry timing.
 */

const t0 = Date.UTC(2026, 0, 1, 12);

/** Commissions the meter on a concentrator of its own and ticks: one initialization job `init:C-<serial>:1`. */
const commission = (s: WorkManagerState, serial: string, t = t0) => {
  applyWorkManagerCommand(
    s,
    { type: 'meterCommissioned', meterSerial: serial, concentratorId: `C-${serial}`, atMs: t },
    t,
  );
  return applyWorkManagerCommand(s, { type: 'tick' }, t).effects;
};
const initId = (serial: string) => `init:C-${serial}:1`;

const outcome = (jobId: string, status: JobOutcome['status'], t: number): JobOutcome => ({
  jobId,
  status,
  attempts: 3,
  finishedAtMs: t,
  ...(status === 'failed' ? { errorCode: 'MF_DEVICE_UNREACHABLE' } : {}),
});

describe('work manager tracked jobs', () => {
  it('tracks at most maxTrackedJobs and counts them as they finish', () => {
    const s = newWorkManager({ maxTrackedJobs: 3 });
    for (let i = 0; i < 5; i++) expect(commission(s, `M${i}`)).toHaveLength(1);
    expect(Object.keys(s.tracked)).toHaveLength(3);
    expect(s.trackedCount).toBe(3);
    applyWorkManagerCommand(s, { type: 'jobOutcome', outcome: outcome(initId('M0'), 'succeeded', t0) }, t0);
    expect(s.trackedCount).toBe(2);
    commission(s, 'M9');
    expect(s.tracked[initId('M9')]).toBeDefined();
    expect(s.trackedCount).toBe(Object.keys(s.tracked).length);
  });

  it('a retry is due at its instant: nextDueMs names it and the tick submits it then, not before', () => {
    const s = newWorkManager({ collectionRetryDelayMs: 7 * 60_000, loadProfileEveryMinutes: 60 });
    commission(s, 'M1');
    const failedAt = t0 + 1_000;
    applyWorkManagerCommand(
      s,
      { type: 'jobOutcome', outcome: outcome(initId('M1'), 'failed', failedAt) },
      failedAt,
    );
    const retryAt = failedAt + 7 * 60_000;
    expect(nextDueMs(s, failedAt)).toBe(Math.min(retryAt, Math.ceil((failedAt + 1) / 300_000) * 300_000));
    expect(applyWorkManagerCommand(s, { type: 'tick' }, retryAt - 1).effects).toEqual([]);
    const retried = applyWorkManagerCommand(s, { type: 'tick' }, retryAt).effects.map((e) => e.job.id);
    expect(retried).toEqual([`${initId('M1')}#r1`]);
    expect(s.trackedCount).toBe(1);
    expect(s.nextRetryAtMs).toBeUndefined();
  });

  it('counts the tracked jobs of a state written before the count existed', () => {
    const s = newWorkManager({ collectionRetryDelayMs: 60_000 });
    commission(s, 'M1');
    commission(s, 'M2');
    applyWorkManagerCommand(s, { type: 'jobOutcome', outcome: outcome(initId('M2'), 'failed', t0) }, t0);
    const legacy = JSON.parse(JSON.stringify(s)) as Partial<WorkManagerState>;
    delete legacy.trackedCount;
    delete legacy.nextRetryAtMs;
    const old = legacy as WorkManagerState;
    const retried = applyWorkManagerCommand(old, { type: 'tick' }, t0 + 60_000).effects.map((e) => e.job.id);
    expect(retried).toEqual([`${initId('M2')}#r1`]);
    expect(old.trackedCount).toBe(2);
  });
});
