/**
 * The job vocabulary shared by the work manager, jobs manager, workers and devices. A job is
 * plain serialisable data so it can sit in a reliable queue, travel over gRPC and be
 * replayed by a persistent actor unchanged.
 */

export const jobKinds = [
  'meterReading',
  'loadProfile',
  'dailyClosure',
  'initialization',
  'deviceControl',
] as const;
export type JobKind = (typeof jobKinds)[number];

export type JobPriority = 'high' | 'normal';

export type ControlAction = 'disconnect' | 'connect' | 'powerReduction';

/** What the job asks of the field; the device turns it into one request to its concentrator. */
export type JobParams =
  | { kind: 'meterReading' }
  | {
      kind: 'loadProfile' /** recover from here (N2Pload gap recovery); else resume from last collected */;
      fromMs?: number;
    }
  | { kind: 'dailyClosure' /** local calendar day of the closure, yyyy-mm-dd */; closureDate: string }
  | { kind: 'initialization' }
  | {
      kind: 'deviceControl';
      action: ControlAction /** power limit for powerReduction, W */;
      limitW?: number;
    };

export type Job = {
  /** Stable and meaningful (e.g. `dc:<concentrator>:<date>`): a resubmitted duplicate is ignored. */
  id: string;
  kind: JobKind;
  priority: JobPriority;
  concentratorId: string;
  /** Meters concerned; empty means every meter of the concentrator. */
  meterSerials: string[];
  params: JobParams;
  /** CorrelationID of the CIM request that caused the job, if any. */
  correlationId?: string;
  submittedAtMs: number;
  /** After this instant the job fails with a timeout instead of starting another attempt. */
  deadlineMs: number;
  maxAttempts: number;
};

export type JobOutcome = {
  jobId: string;
  status: 'succeeded' | 'failed';
  attempts: number;
  finishedAtMs: number;
  /** Stable error code when failed (e.g. MF_JOB_DEADLINE, MF_DEVICE_UNREACHABLE). */
  errorCode?: string;
  errorMessage?: string;
  /** Oldest "last collected" instant over the job's meters after the job: lets the work manager see gaps. */
  oldestCollectedMs?: number;
  /**
   * An initialization job that succeeded for some of its meters only: the ones that failed
   * (every other meter of the job was initialized). The work manager retries just these.
   */
  failedMeters?: string[];
};

/**
 * Most meters one job may name. Initialization is commissioned per concentrator, split into
 * jobs of at most `maxMetersPerInitJob` (work-manager config, 250 by default); this is the
 * hard bound on any job's list, so no submitted job can carry an unbounded array.
 */
export const maxMetersPerJob = 1_000;

/** One meter's answer to an initialization request. */
export type MeterInitResult = { meterSerial: string; ok: boolean; detail?: string };

/** Work orders (relay control, on-demand reads from a CIM request) are high priority. */
export function priorityOf(kind: JobKind, fromExternalRequest: boolean): JobPriority {
  return kind === 'deviceControl' || fromExternalRequest ? 'high' : 'normal';
}
