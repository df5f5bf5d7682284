import { invalidInput } from '../domain/errors.js';
import { type Job, jobKinds, maxMetersPerJob } from '../domain/jobs.js';
import { requireId } from '../domain/validate.js';

// What the jobs manager accepts: a submitted job's fields, and a worker's list of failed meters.

const maxJobIdLength = 200;

/**
 * Each meter once, and only meters the job named (or, for a job naming none, at most
 * maxMetersPerJob): a worker's answer cannot grow the remembered outcome beyond its job.
 */
export function failedMetersOf(job: Job, failed: readonly string[]): string[] {
  const unique = [...new Set(failed)];
  if (job.meterSerials.length === 0) return unique.slice(0, maxMetersPerJob);
  const named = new Set(job.meterSerials);
  return unique.filter((serial) => named.has(serial));
}

export function validateJob(job: Job): void {
  if (typeof job !== 'object' || job === null) throw invalidInput('job is missing');
  if (typeof job.id !== 'string' || job.id.length === 0 || job.id.length > maxJobIdLength)
    throw invalidInput(`job id must be a non-empty string of at most ${maxJobIdLength} characters`);
  if (!jobKinds.includes(job.kind)) throw invalidInput(`job kind must be one of ${jobKinds.join(', ')}`);
  if (job.priority !== 'high' && job.priority !== 'normal')
    throw invalidInput('job priority must be high or normal');
  requireId(job.concentratorId, 'concentrator id');
  if (!Array.isArray(job.meterSerials) || job.meterSerials.length > maxMetersPerJob)
    throw invalidInput(`meterSerials must be a list of at most ${maxMetersPerJob} meters: split the job`, {
      jobId: job.id,
    });
  if (job.params.kind !== job.kind) throw invalidInput('job params do not match the job kind');
  if (!(Number.isInteger(job.maxAttempts) && job.maxAttempts >= 1 && job.maxAttempts <= 20))
    throw invalidInput('maxAttempts must be an integer 1..20');
  if (!Number.isFinite(job.deadlineMs)) throw invalidInput('deadlineMs must be an instant');
}
