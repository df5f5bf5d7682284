import type { Job } from '../domain/jobs.js';
import type { FieldRequest, MeterCursor } from './field.js';
import type { DataKind, DeviceState } from './state.js';

/**
 * The field request a device sends for a job, decided from its cursors (state.ts applies it
 * when the request becomes current; `planRequest` answers it as a read). Pure.
 */

/**
 * What a `request` for (job, attempt) would send now, decided from the current cursors, without
 * changing anything (a read: issue 7's one write per collection). The driver runs that exchange
 * and then delivers `request` and its answer in one persisted call, which applies them exactly
 * as two calls would. `undefined` when the request must take the two-call path instead: the
 * device is not idle (the request would queue, or is current or queued already), the job is a
 * work order (a relay is operated only after the device has recorded the operation as its
 * current request, and a repeated order is answered from the device's memory), or the state
 * still has the flat cursors of old records (converted by its next command, not by a read).
 */
export function planRequest(
  state: DeviceState,
  job: Job,
  attempt: number,
  nowMs: number,
): { requestId: string; request: FieldRequest } | undefined {
  if (state.current || state.queue.length > 0) return undefined;
  if (job.params.kind === 'deviceControl') return undefined;
  if (state.lastCollected !== undefined || state.cursors === undefined) return undefined;
  return { requestId: `${job.id}@${attempt}`, request: fieldRequestFor(state, job, nowMs) };
}

export function targetMeters(state: DeviceState, job: Job): string[] {
  return job.meterSerials.length > 0 ? job.meterSerials : state.meters;
}

function cursorsFor(
  state: DeviceState,
  job: Job,
  kind: DataKind,
  nowMs: number,
  fromMs?: number,
): MeterCursor[] {
  return targetMeters(state, job).map((serial) => {
    const last = state.cursors[serial]?.[kind] ?? nowMs - state.config.initialLookbackMs;
    return { serial, afterMs: fromMs !== undefined ? Math.min(fromMs, last) : last };
  });
}

export function fieldRequestFor(state: DeviceState, job: Job, nowMs: number): FieldRequest {
  const params = job.params;
  switch (params.kind) {
    case 'loadProfile':
      return {
        type: 'loadProfile',
        meters: cursorsFor(state, job, 'loadProfile', nowMs, params.fromMs),
        toMs: nowMs,
      };
    case 'dailyClosure':
      return {
        type: 'dailyClosure',
        meters: cursorsFor(state, job, 'dailyClosure', nowMs),
        closureDate: params.closureDate,
      };
    case 'meterReading':
      return { type: 'register', meters: targetMeters(state, job) };
    case 'initialization':
      return { type: 'initialize', meters: targetMeters(state, job) };
    case 'deviceControl':
      return {
        type: 'control',
        action: params.action,
        meters: targetMeters(state, job),
        operationId: job.id,
        ...(params.limitW !== undefined ? { limitW: params.limitW } : {}),
      };
  }
}
