import type { ControlAction, Job } from './jobs.js';

/**
 * Jobs for inbound work orders. Ids derive from the request's CorrelationID and the meter, so
 * the same request sent twice (an integrator's retry) is the same job and is ignored by the
 * jobs manager: a relay is never operated twice for one order.
 */

export function onDemandReadJob(args: {
  meterSerial: string;
  concentratorId: string;
  correlationId: string;
  nowMs: number;
  timeoutMs: number;
}): Job {
  return {
    id: `od:${args.correlationId}:${args.meterSerial}`,
    kind: 'meterReading',
    priority: 'high',
    concentratorId: args.concentratorId,
    meterSerials: [args.meterSerial],
    params: { kind: 'meterReading' },
    correlationId: args.correlationId,
    submittedAtMs: args.nowMs,
    deadlineMs: args.nowMs + args.timeoutMs,
    // The deadline, not a count, bounds a synchronous read: retry as often as it allows.
    maxAttempts: 20,
  };
}

export function controlJob(args: {
  meterSerial: string;
  concentratorId: string;
  correlationId: string;
  action: ControlAction;
  limitW?: number;
  nowMs: number;
  timeoutMs: number;
}): Job {
  return {
    id: `ctl:${args.correlationId}:${args.meterSerial}:${args.action}`,
    kind: 'deviceControl',
    priority: 'high',
    concentratorId: args.concentratorId,
    meterSerials: [args.meterSerial],
    params: {
      kind: 'deviceControl',
      action: args.action,
      ...(args.limitW !== undefined ? { limitW: args.limitW } : {}),
    },
    correlationId: args.correlationId,
    submittedAtMs: args.nowMs,
    deadlineMs: args.nowMs + args.timeoutMs,
    maxAttempts: 5,
  };
}
