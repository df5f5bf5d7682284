import type { Job, JobKind, JobParams, JobPriority } from '../../actors/domain/jobs.js';

export const t0 = Date.UTC(2026, 0, 1);

const paramsFor: Record<JobKind, JobParams> = {
  meterReading: { kind: 'meterReading' },
  loadProfile: { kind: 'loadProfile' },
  dailyClosure: { kind: 'dailyClosure', closureDate: '2025-12-31' },
  initialization: { kind: 'initialization' },
  deviceControl: { kind: 'deviceControl', action: 'disconnect' },
};

export function job(id: string, overrides: Partial<Job> = {}): Job {
  const kind: JobKind = overrides.kind ?? 'loadProfile';
  const priority: JobPriority = overrides.priority ?? 'normal';
  return {
    id,
    kind,
    priority,
    concentratorId: `C-${id}`,
    meterSerials: [],
    params: paramsFor[kind],
    submittedAtMs: t0,
    deadlineMs: t0 + 3_600_000,
    maxAttempts: 3,
    ...overrides,
  };
}
