import { describe, expect, it } from 'vitest';
import type { Job } from '../../actors/domain/jobs.js';
import {
  applyWorkManagerCommand,
  newWorkManager,
  nextDueMs,
  type WorkManagerCommand,
  type WorkManagerState,
} from '../../actors/work-manager/schedule.js';

const hour = 3_600_000;
// 2026-03-10 22:00 UTC = 23:00 in Rome (UTC+1), 18:00 in New York (UTC-4 after 8 March).
const start = Date.UTC(2026, 2, 10, 22, 0);

function jobs(state: WorkManagerState, command: WorkManagerCommand, nowMs: number): Job[] {
  return applyWorkManagerCommand(state, command, nowMs).effects.map((e) => e.job);
}

function withConcentrators(...zones: [string, string][]): WorkManagerState {
  const s = newWorkManager({ loadProfileEveryMinutes: 60, dailyClosureDelayMinutes: 5 });
  for (const [id, timeZone] of zones)
    applyWorkManagerCommand(s, { type: 'addConcentrator', concentratorId: id, timeZone }, start);
  return s;
}

describe('work manager: daily closure', () => {
  it('submits the closure of the previous local day just after local midnight in each time zone', () => {
    const s = withConcentrators(['ROME', 'Europe/Rome'], ['NY', 'America/New_York']);
    const closures = (t: number) => jobs(s, { type: 'tick' }, t).filter((j) => j.kind === 'dailyClosure');
    expect(closures(Date.UTC(2026, 2, 10, 23, 4))).toEqual([]); // 00:04 in Rome
    expect(closures(Date.UTC(2026, 2, 10, 23, 5))).toEqual([
      expect.objectContaining({
        id: 'dc:ROME:2026-03-10',
        concentratorId: 'ROME',
        params: { kind: 'dailyClosure', closureDate: '2026-03-10' },
        priority: 'normal',
      }),
    ]);
    expect(closures(Date.UTC(2026, 2, 11, 3, 0))).toEqual([]); // 23:00 in New York
    expect(closures(Date.UTC(2026, 2, 11, 4, 10)).map((j) => j.id)).toEqual(['dc:NY:2026-03-10']);
  });

  it('submits a closure once per local day, even when ticked often', () => {
    const s = withConcentrators(['ROME', 'Europe/Rome']);
    const ids: string[] = [];
    // 23:00 on 10 March to 05:00 on 12 March in Rome: two local midnights.
    for (let t = start; t < start + 30 * hour; t += 60_000)
      ids.push(...jobs(s, { type: 'tick' }, t).flatMap((j) => (j.kind === 'dailyClosure' ? [j.id] : [])));
    expect(ids).toEqual(['dc:ROME:2026-03-10', 'dc:ROME:2026-03-11']);
  });
});

describe('work manager: load profile', () => {
  it('submits one load profile job per slot with a slot-derived id', () => {
    const s = withConcentrators(['C1', 'Europe/Rome']);
    const lp = (t: number) => jobs(s, { type: 'tick' }, t).filter((j) => j.kind === 'loadProfile');
    expect(lp(start).map((j) => j.id)).toEqual([`lp:C1:${start}`]);
    expect(lp(start + 59 * 60_000)).toEqual([]);
    expect(lp(start + hour).map((j) => j.id)).toEqual([`lp:C1:${start + hour}`]);
  });

  it('after a long pause submits only the current slot: the device resumes from its last collected instant', () => {
    const s = withConcentrators(['C1', 'Europe/Rome']);
    jobs(s, { type: 'tick' }, start);
    const later = jobs(s, { type: 'tick' }, start + 5 * hour + 10).filter((j) => j.kind === 'loadProfile');
    expect(later.map((j) => j.id)).toEqual([`lp:C1:${start + 5 * hour}`]);
  });

  it('nextDueMs is no later than the next slot start', () => {
    const s = withConcentrators(['C1', 'Europe/Rome']);
    expect(nextDueMs(s, start + 10)).toBeLessThanOrEqual(start + hour);
    expect(nextDueMs(s, start + 10)).toBeGreaterThan(start + 10);
  });
});

describe('work manager: initialization, retries and gap recovery', () => {
  it('submits an initialization job for a commissioned meter on the next tick (batched per concentrator)', () => {
    const s = withConcentrators(['C1', 'Europe/Rome']);
    expect(
      jobs(s, { type: 'meterCommissioned', meterSerial: 'M1', concentratorId: 'C1', atMs: start }, start),
    ).toEqual([]);
    expect(nextDueMs(s, start)).toBe(start);
    expect(jobs(s, { type: 'tick' }, start).filter((j) => j.kind === 'initialization')).toEqual([
      expect.objectContaining({ id: 'init:C1:1', kind: 'initialization', meterSerials: ['M1'] }),
    ]);
  });

  it('retries a finally failed closure as a new job after the retry delay, at most maxCollectionRetries times', () => {
    const s = newWorkManager({ collectionRetryDelayMs: 10 * 60_000, maxCollectionRetries: 2 });
    applyWorkManagerCommand(
      s,
      { type: 'addConcentrator', concentratorId: 'R', timeZone: 'UTC' },
      Date.UTC(2026, 0, 1, 12),
    );
    const midnight = Date.UTC(2026, 0, 2, 0, 5);
    const [dc] = jobs(s, { type: 'tick' }, midnight).filter((j) => j.kind === 'dailyClosure');
    expect(dc?.id).toBe('dc:R:2026-01-01');
    const fail = (jobId: string, t: number) =>
      jobs(
        s,
        {
          type: 'jobOutcome',
          outcome: {
            jobId,
            status: 'failed',
            attempts: 3,
            finishedAtMs: t,
            errorCode: 'MF_DEVICE_UNREACHABLE',
          },
        },
        t,
      );
    fail('dc:R:2026-01-01', midnight + 1_000);
    const closuresAt = (t: number) => jobs(s, { type: 'tick' }, t).filter((j) => j.kind === 'dailyClosure');
    expect(closuresAt(midnight + 5 * 60_000)).toEqual([]);
    const [retry1] = closuresAt(midnight + 11 * 60_000);
    expect(retry1).toMatchObject({ id: 'dc:R:2026-01-01#r1', params: { closureDate: '2026-01-01' } });
    fail('dc:R:2026-01-01#r1', midnight + 12 * 60_000);
    expect(closuresAt(midnight + 23 * 60_000).map((j) => j.id)).toEqual(['dc:R:2026-01-01#r2']);
    fail('dc:R:2026-01-01#r2', midnight + 24 * 60_000);
    expect(closuresAt(midnight + 60 * 60_000)).toEqual([]);
  });

  it('submits one N2Pload recovery job when the oldest collected load profile lags beyond the threshold', () => {
    const s = newWorkManager({ gapThresholdMs: 3 * hour });
    applyWorkManagerCommand(s, { type: 'addConcentrator', concentratorId: 'G', timeZone: 'UTC' }, start);
    const [lp] = jobs(s, { type: 'tick' }, start);
    const oldest = start - 5 * hour;
    jobs(
      s,
      {
        type: 'jobOutcome',
        outcome: {
          jobId: lp!.id,
          status: 'succeeded',
          attempts: 1,
          finishedAtMs: start + 1,
          oldestCollectedMs: oldest,
        },
      },
      start + 1,
    );
    const recovery = jobs(s, { type: 'tick' }, start + 2).filter((j) => j.id.startsWith('n2p:'));
    expect(recovery).toEqual([
      expect.objectContaining({
        id: `n2p:G:${oldest}`,
        kind: 'loadProfile',
        params: { kind: 'loadProfile', fromMs: oldest },
      }),
    ]);
    expect(jobs(s, { type: 'tick' }, start + 3).filter((j) => j.id.startsWith('n2p:'))).toEqual([]);
  });

  it('refuses an unknown time zone and changes nothing', () => {
    const s = newWorkManager();
    expect(() =>
      applyWorkManagerCommand(
        s,
        { type: 'addConcentrator', concentratorId: 'X', timeZone: 'Nowhere/City' },
        start,
      ),
    ).toThrow(expect.objectContaining({ code: 'MF_HEADEND_INVALID_INPUT' }));
    expect(s.concentrators).toEqual({});
  });
});
