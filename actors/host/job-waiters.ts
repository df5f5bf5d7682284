import type { CollectedReading } from '../../adapters/field-data.js';
import type { JobOutcome } from '../domain/jobs.js';
import { type ForwardedReadings, plainReadings } from './forwarded-readings.js';

/** Readings kept for jobs someone waits on (on-demand reads). */
const maxRememberedJobReadings = 10_000;

/**
 * The driver's callers waiting on jobs they submitted (the CIM bridge's on-demand reads and
 * controls): each job's outcome once it is routed, and the readings its device results
 * carried meanwhile (bounded; only for jobs someone waits on). In memory only: a restarted
 * driver has no waiters, and a caller resubmits (the jobs manager answers a known job with
 * its recorded outcome).
 */
export class JobWaiters {
  private readonly waiters = new Map<string, ((o: JobOutcome) => void)[]>();
  private readonly readingsByJob = new Map<string, CollectedReading[]>();

  /** Resolves with the job's outcome. */
  wait(jobId: string): Promise<JobOutcome> {
    return new Promise<JobOutcome>((resolve) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push(resolve);
      this.waiters.set(jobId, list);
    });
  }

  waitsFor(jobId: string): boolean {
    return this.waiters.has(jobId);
  }

  addReadings(jobId: string, readings: readonly CollectedReading[] | ForwardedReadings): void {
    if (!this.waiters.has(jobId)) return;
    this.readingsByJob.set(jobId, [...this.readingsOf(jobId), ...plainReadings(readings)]);
    while (this.readingsByJob.size > maxRememberedJobReadings) {
      const oldest = this.readingsByJob.keys().next().value;
      if (oldest === undefined) break;
      this.readingsByJob.delete(oldest);
    }
  }

  readingsOf(jobId: string): CollectedReading[] {
    return this.readingsByJob.get(jobId) ?? [];
  }

  resolve(outcome: JobOutcome): void {
    const waiters = this.waiters.get(outcome.jobId);
    if (!waiters) return;
    this.waiters.delete(outcome.jobId);
    for (const resolve of waiters) resolve(outcome);
  }
}
