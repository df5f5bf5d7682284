import type { JobEntry, JobsManagerState } from './state.js';

// Where queued jobs wait besides their queue: retries in backoff (by due instant) and jobs
// parked behind their busy concentrator. Both keep a tick from walking past jobs that cannot
// start yet.

/** Inserts after every retry due at or before it (binary search; the splice moves ids only). */
export function insertBackoff(state: JobsManagerState, entry: JobEntry): void {
  const list = state.backoff;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const other = state.entries[list[mid] as string];
    if (other && other.notBeforeMs > entry.notBeforeMs) hi = mid;
    else lo = mid + 1;
  }
  list.splice(lo, 0, entry.job.id);
}

/** Retries whose backoff has passed join the back of their queue, as a retry always did. */
export function releaseDueRetries(state: JobsManagerState, nowMs: number): void {
  const list = state.backoff;
  let due = 0;
  for (; due < list.length; due++) {
    const entry = state.entries[list[due] as string];
    if (entry && entry.phase === 'backoff' && entry.notBeforeMs > nowMs) break;
    if (entry?.phase !== 'backoff') continue;
    entry.phase = 'queued';
    state.queues[entry.job.priority].push(entry.job.id);
    noteQueued(state, entry);
  }
  if (due > 0) list.splice(0, due);
}

export function noteQueued(state: JobsManagerState, entry: JobEntry): void {
  state.queuedByKind[entry.job.kind] += 1;
  const next = state.nextQueuedDeadlineMs;
  if (next === undefined || entry.job.deadlineMs < next) state.nextQueuedDeadlineMs = entry.job.deadlineMs;
}

export function park(state: JobsManagerState, entry: JobEntry): void {
  entry.phase = 'parked';
  state.queuedByKind[entry.job.kind] -= 1;
  const list = state.parked[entry.job.concentratorId];
  if (list) list.push(entry.job.id);
  else state.parked[entry.job.concentratorId] = [entry.job.id];
  state.parkedCount += 1;
}

/** The concentrator has a free slot again: its parked jobs rejoin their queues, in parking order. */
export function unpark(state: JobsManagerState, concentratorId: string): void {
  const list = state.parked[concentratorId];
  if (!list) return;
  delete state.parked[concentratorId];
  state.parkedCount -= list.length;
  for (const jobId of list) {
    const entry = state.entries[jobId];
    if (entry?.phase !== 'parked') continue;
    entry.phase = 'queued';
    state.queues[entry.job.priority].push(jobId);
    noteQueued(state, entry);
  }
}
