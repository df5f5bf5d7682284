import { describe, expect, it } from 'vitest';
import { emptyResponse, type FieldResponse } from '../../actors/device/field.js';
import { applyDeviceCommand, type DeviceEffect, newDevice } from '../../actors/device/state.js';
import { maxMetersPerJob } from '../../actors/domain/jobs.js';
import { applyJobsManagerCommand, newJobsManager } from '../../actors/jobs-manager/state.js';
import { SimulatedConcentrator } from '../../actors/simulation/concentrator.js';
import { MeterModel } from '../../actors/simulation/meter-model.js';
import { applyWorkerCommand, newWorker, type WorkerEffect } from '../../actors/workers/state.js';
import { ManualClock } from '../../core/clock.js';
import { job, t0 } from './job-fixtures.js';

/** Per-meter initialization results, from the concentrator through device and worker to the job's outcome. */

const initJob = (meterSerials: string[]) =>
  job('init:C:1', { kind: 'initialization', concentratorId: 'C', meterSerials });

function initCompleted(meters: string[], response: Partial<FieldResponse>) {
  const d = newDevice('C', meters);
  applyDeviceCommand(d, { type: 'request', job: initJob(meters), attempt: 1 }, t0);
  const effects = applyDeviceCommand(
    d,
    { type: 'fieldResponse', requestId: 'init:C:1@1', response: { ...emptyResponse(), ...response } },
    t0,
  ).effects;
  const done = effects.find((e): e is Extract<DeviceEffect, { type: 'completed' }> => e.type === 'completed');
  if (!done) throw new Error('no completed effect');
  return done;
}

function attemptOf(done: Extract<DeviceEffect, { type: 'completed' }>) {
  const w = newWorker('initialization');
  applyWorkerCommand(w, { type: 'assign', job: done.job, attempt: 1 }, t0);
  const effects = applyWorkerCommand(w, { type: 'deviceCompleted', result: done }, t0).effects;
  const result = effects.find(
    (e): e is Extract<WorkerEffect, { type: 'attemptResult' }> => e.type === 'attemptResult',
  );
  if (!result) throw new Error('no attempt result');
  return result.result;
}

describe('initialization results per meter', () => {
  it('the simulated concentrator initializes its own meters and refuses one it does not serve', async () => {
    const clock = new ManualClock(t0);
    const meters = ['M1', 'M2'].map((serial) => new MeterModel({ serial, seed: 1, originMs: t0 }));
    const c = new SimulatedConcentrator({ id: 'C', timeZone: 'UTC', meters, clock });
    const response = await c.execute({ type: 'initialize', meters: ['M1', 'X9', 'M2'] });
    expect(response.initResults).toEqual([
      { meterSerial: 'M1', ok: true },
      { meterSerial: 'X9', ok: false, detail: 'meter X9 is not behind concentrator C' },
      { meterSerial: 'M2', ok: true },
    ]);
  });

  it('the device reports one result per meter of the job; a meter the answer leaves out failed', () => {
    const done = initCompleted(['M1', 'M2', 'M3'], {
      initResults: [
        { meterSerial: 'M2', ok: false, detail: 'no answer' },
        { meterSerial: 'M1', ok: true },
      ],
    });
    expect(done.initResults).toEqual([
      { meterSerial: 'M1', ok: true },
      { meterSerial: 'M2', ok: false, detail: 'no answer' },
      { meterSerial: 'M3', ok: false, detail: 'the concentrator did not report on this meter' },
    ]);
  });

  it('a link that answers without per-meter results initialized every meter of the job', () => {
    expect(initCompleted(['M1', 'M2'], {}).initResults).toEqual([
      { meterSerial: 'M1', ok: true },
      { meterSerial: 'M2', ok: true },
    ]);
  });

  it('the worker makes a partial success a success naming the failed meters', () => {
    const done = initCompleted(['M1', 'M2', 'M3'], {
      initResults: [
        { meterSerial: 'M1', ok: true },
        { meterSerial: 'M2', ok: false },
        { meterSerial: 'M3', ok: true },
      ],
    });
    expect(attemptOf(done)).toEqual({ ok: true, failedMeters: ['M2'] });
  });

  it('the worker makes a job with no meter initialized a retryable failure naming them', () => {
    const done = initCompleted(['M1', 'M2'], {
      initResults: [
        { meterSerial: 'M1', ok: false, detail: 'no answer' },
        { meterSerial: 'M2', ok: false, detail: 'no answer' },
      ],
    });
    expect(attemptOf(done)).toEqual({
      ok: false,
      retryable: true,
      errorCode: 'MF_DEVICE_INIT_FAILED',
      errorMessage: 'no meter of the job was initialized: M1: no answer; M2: no answer',
    });
  });

  it("the jobs manager records the failed meters in the job's outcome, only meters of the job", () => {
    const jm = newJobsManager();
    applyJobsManagerCommand(jm, { type: 'submit', job: initJob(['M1', 'M2', 'M3']) }, t0);
    applyJobsManagerCommand(jm, { type: 'tick' }, t0);
    const effects = applyJobsManagerCommand(
      jm,
      {
        type: 'attemptResult',
        jobId: 'init:C:1',
        attempt: 1,
        result: { ok: true, failedMeters: ['M3', 'M3', 'X9'] },
      },
      t0 + 1,
    ).effects;
    expect(effects).toEqual([
      expect.objectContaining({
        type: 'outcome',
        outcome: expect.objectContaining({ jobId: 'init:C:1', status: 'succeeded', failedMeters: ['M3'] }),
      }),
    ]);
  });

  it('the jobs manager refuses a job naming more than maxMetersPerJob meters and queues nothing', () => {
    const jm = newJobsManager();
    const meters = Array.from({ length: maxMetersPerJob + 1 }, (_, i) => `M${i}`);
    expect(() => applyJobsManagerCommand(jm, { type: 'submit', job: initJob(meters) }, t0)).toThrow(
      expect.objectContaining({
        code: 'MF_HEADEND_INVALID_INPUT',
        message: expect.stringMatching(/split the job/),
      }),
    );
    expect(jm.queues.normal).toEqual([]);
    expect(jm.entries).toEqual({});
  });
});
