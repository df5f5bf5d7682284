/**
 * How many tasks a batch job becomes, and where to cut it. Each task costs the main thread a
 * fixed amount (piscina bookkeeping, a message each way, waking a worker): measured at
 * 0.1-0.5 ms per task on the bench box, as much as encoding a few hundred readings. With the
 * main thread and the workers sharing the same cores, that cost comes straight off the
 * workers, so a batch is cut into as few tasks as keep every worker busy: a multiple of the
 * thread count (no worker idles while another finishes a last, extra task), none above
 * `maxItemsPerTask` (bounded memory per task, and packing overlaps with encoding), none below
 * `minItemsPerTask` unless the whole batch is smaller.
 */
export type TaskSizeLimits = {
  minItemsPerTask: number;
  maxItemsPerTask: number;
  /**
   * The size a task is cut to when a batch holds more than one task per thread (items, e.g.
   * readings or rows): a production batch (a day's load profiles, millions of readings) becomes
   * tasks of about this size instead of a fixed count. Each task costs a hand-off through the
   * main thread (0.1-1 ms on a shared 2-core box, waiting for a core), so it should be large
   * against that (bench/cim-csv.bench.ts: 7,680-reading tasks kept workers busy ~50% of the
   * time at load 5, 30,720-reading ones ~83%). Default: maxItemsPerTask.
   */
  targetItemsPerTask?: number;
};

/**
 * Tasks for `items` items on `threads` workers: about `targetItemsPerTask` each (never more
 * than `maxItemsPerTask`), the count rounded up to a multiple of the threads (no worker idles
 * while another runs a last, extra task); a batch smaller than threads x target is split into
 * one task per thread unless that makes tasks under `minItemsPerTask`.
 */
export function taskCountFor(items: number, threads: number, limits: TaskSizeLimits): number {
  if (!(items > 0)) return 0;
  const lanes = Math.max(1, Math.floor(threads));
  const maxItems = Math.max(1, Math.floor(limits.maxItemsPerTask));
  const minItems = Math.max(1, Math.floor(limits.minItemsPerTask));
  const target = Math.min(maxItems, Math.max(1, Math.floor(limits.targetItemsPerTask ?? maxItems)));
  const wanted = lanes * Math.ceil(items / (lanes * target));
  const atMostByMin = Math.max(1, Math.floor(items / minItems));
  return Math.min(wanted, atMostByMin);
}

/**
 * Cuts `weights` (items per unit, e.g. readings per message; units are never split) into at
 * most `tasks` contiguous groups of about equal weight. Returns each group's start index
 * (ascending, the first is 0); every group holds at least one unit and at most
 * `maxUnitsPerGroup` (a task's own bound on its array), which may add groups.
 */
export function groupStarts(
  weights: readonly number[],
  tasks: number,
  maxUnitsPerGroup = Number.POSITIVE_INFINITY,
): number[] {
  const units = weights.length;
  if (units === 0) return [];
  const groups = Math.max(1, Math.min(units, Math.floor(tasks)));
  let total = 0;
  for (const w of weights) total += Math.max(0, w);
  const starts = [0];
  let sum = 0;
  const maxUnits = Math.max(1, Math.floor(maxUnitsPerGroup));
  for (let i = 0; i < units - 1; i++) {
    sum += Math.max(0, weights[i]!);
    const full = i + 1 - starts[starts.length - 1]! >= maxUnits;
    // Cut after unit i once this group reached its share; leave a unit for each later group.
    const due = (total * starts.length) / groups;
    const share = starts.length < groups && (sum >= due || units - (i + 1) <= groups - starts.length);
    if (full || share) starts.push(i + 1);
  }
  return starts;
}
