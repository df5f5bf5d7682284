import { describe, expect, it } from 'vitest';
import type { Job } from '../../actors/domain/jobs.js';
import { recordId, type TLogRecord } from '../../actors/tlog/records.js';
import { newTLog, route } from '../../actors/tlog/router.js';
import { applyWorkerCommand, newWorker, type WorkerState } from '../../actors/workers/state.js';
import { job, t0 } from './job-fixtures.js';

/** Counts and bounds that replaced scans in the worker and the TLog router. */

const lp = (id: string): Job => job(id, { kind: 'loadProfile' });

describe('worker executing count', () => {
  it('never runs more than maxExecuting, also for a state written before the count existed', () => {
    const w = newWorker('loadProfile', 2);
    for (const id of ['a', 'b', 'c']) applyWorkerCommand(w, { type: 'assign', job: lp(id), attempt: 1 }, t0);
    expect(w.executingCount).toBe(2);
    const legacy = JSON.parse(JSON.stringify(w)) as Partial<WorkerState>;
    delete legacy.executingCount;
    const old = legacy as WorkerState;
    const started = applyWorkerCommand(old, { type: 'assign', job: lp('d'), attempt: 1 }, t0).effects;
    expect(started).toEqual([]);
    const next = applyWorkerCommand(
      old,
      {
        type: 'deviceFailed',
        result: {
          type: 'failed',
          job: lp('a'),
          attempt: 1,
          errorCode: 'E',
          errorMessage: 'e',
          retryable: true,
        },
      },
      t0,
    ).effects;
    expect(next.filter((e) => e.type === 'deviceRequest').map((e) => e.job.id)).toEqual(['c']);
    expect(old.executingCount).toBe(Object.keys(old.executing).length);
    expect(old.executingCount).toBe(2);
  });
});

describe('tlog remembered ids', () => {
  it('keeps between 15/16 of its bound and its bound, newest kept, oldest forgotten', () => {
    const t = newTLog(160);
    const ev = (i: number) => ({
      type: 'event' as const,
      concentratorId: 'C',
      collectedAtMs: t0,
      event: {
        deviceId: 'M1',
        deviceKind: 'meter' as const,
        key: 'meter.statusWordAlarm' as const,
        phase: 'occurred' as const,
        timestampMs: t0 + i,
      },
    });
    for (let i = 0; i < 1_000; i++) {
      route(t, [ev(i)]);
      expect(t.recentIds.length).toBeLessThanOrEqual(160);
      expect(Object.keys(t.recentIdSet).length).toBe(t.recentIds.length);
    }
    expect(t.recentIds.length).toBeGreaterThanOrEqual(150);
    expect(route(t, [ev(999)]).routed).toEqual([]);
    expect(route(t, [ev(0)]).routed).toHaveLength(1);
  });
});

describe('tlog routed ids', () => {
  it('a routed reading carries its record id (meter, kind, quantity, instant)', () => {
    const records: TLogRecord[] = [
      { source: 'obis' as const, code: '1.8.1' },
      { source: 'knx' as const, dpt: '13.010', quantity: 'import' },
      { source: 'profile' as const, quantity: 'activeImportInterval' as const },
    ].map((quantity, i) => ({
      type: 'reading',
      concentratorId: 'C',
      collectedAtMs: t0,
      reading: {
        meterSerial: `M${i}`,
        kind: 'register',
        quantity,
        value: i,
        unit: 'Wh',
        timestampMs: t0 + i,
      },
    })) as TLogRecord[];
    const { routed } = route(newTLog(), records);
    expect(routed.map((r) => r.id)).toEqual(records.map(recordId));
  });
});
