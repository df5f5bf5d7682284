import { invalidInput } from '../domain/errors.js';
import type { JobKind } from '../domain/jobs.js';

/** The work manager's configuration, its defaults and the checks on what may be changed. */

export type WorkManagerConfig = {
  /** Load profile collection period, minutes; slots are aligned to the epoch. */
  loadProfileEveryMinutes: number;
  /** Daily closures start this long after local midnight (the meter needs time to close). */
  dailyClosureDelayMinutes: number;
  /** How long each job kind may take before it fails with a timeout. */
  jobDeadlineMs: Record<JobKind, number>;
  maxAttempts: number;
  /** After a collection job has finally failed, try it again as a new job this much later... */
  collectionRetryDelayMs: number;
  /** ...at most this many times. */
  maxCollectionRetries: number;
  /** A concentrator whose oldest collected load profile lags more than this gets an N2Pload recovery job. */
  gapThresholdMs: number;
  /** Bound on remembered outstanding jobs (retries and recoveries), against unbounded growth. */
  maxTrackedJobs: number;
  /**
   * Meters one initialization job carries: a concentrator's meters commissioned in one tick
   * (or a bulk import) go out as one job, split when there are more than this.
   */
  maxMetersPerInitJob: number;
};

export const defaultWorkManagerConfig: WorkManagerConfig = {
  loadProfileEveryMinutes: 60,
  dailyClosureDelayMinutes: 5,
  jobDeadlineMs: {
    meterReading: 60_000,
    loadProfile: 30 * 60_000,
    dailyClosure: 4 * 3_600_000,
    initialization: 3_600_000,
    deviceControl: 15 * 60_000,
  },
  maxAttempts: 3,
  collectionRetryDelayMs: 15 * 60_000,
  maxCollectionRetries: 3,
  gapThresholdMs: 3 * 3_600_000,
  maxTrackedJobs: 100_000,
  maxMetersPerInitJob: 250,
};

const minutesPerDay = 1_440;

/**
 * A load profile collection period: a positive whole number of minutes dividing a day, so
 * slots fall on the same instants every day (60: hourly; 360: four collections a day, as
 * SMMePlus collects in batches). Throws MF_HEADEND_INVALID_INPUT otherwise.
 */
export function validLoadProfileEveryMinutes(value: unknown): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value > 0 && minutesPerDay % value === 0))
    throw invalidInput(
      `loadProfileEveryMinutes must be a positive integer dividing 1440 (e.g. 15, 60, 360, 1440), not ${JSON.stringify(value)}`,
    );
  return value;
}

/**
 * The gap threshold that goes with a collection period when none is given: a concentrator's
 * oldest collected value lags up to one period behind by design, so only two hours beyond
 * that is a gap (hourly: the default 3 h).
 */
export function gapThresholdFor(loadProfileEveryMinutes: number): number {
  return Math.max(defaultWorkManagerConfig.gapThresholdMs, loadProfileEveryMinutes * 60_000 + 2 * 3_600_000);
}
