/**
 * Initialization batches of the work manager: commissioned meters are initialized by one job
 * per concentrator (not one per meter: a bulk import of 10,000 concentrators x 20 meters made
 * 200,000 jobs and hit the jobs manager's queue cap). Pure bookkeeping on plain data; the
 * work manager (schedule.ts) decides when a batch becomes a job.
 *
 * A meter is "outstanding" from its commissioning until its initialization succeeded or was
 * given up: while outstanding, commissioning it again is ignored, so no meter is initialized
 * twice. A meter commissioned while its concentrator's job is queued waits for the next batch.
 * Once done, its commissioning instant is remembered for a while (bounded by count), so the
 * same commissioning delivered again later is still recognised and ignored.
 */

export type InitBatches = {
  /** Per concentrator: meters waiting for the next job, in commissioning order. */
  pending: Record<string, string[]>;
  /** How many meters `pending` holds over all concentrators (nextDueMs asks it per tick). */
  pendingCount: number;
  /** Meter serial -> commissioning instant, for every meter pending or in an unfinished job. */
  outstanding: Record<string, number>;
  /**
   * Per concentrator: the number of its next batch, so job ids (`init:<conc>:<n>`) are
   * deterministic (a replayed command makes the same id, which the jobs manager ignores) and
   * never reused: kept after a concentrator is removed, one number per concentrator.
   */
  nextBatch: Record<string, number>;
  /** Meter serial -> commissioning instant, of the meter's last finished initialization. */
  done: Record<string, number>;
  /** [serial, commissioning instant] in the order they finished: forgotten from the front. */
  doneOrder: [string, number][];
};

/** Finished commissionings remembered to ignore a repeated delivery (about 40 MB of state at most). */
export const maxRememberedInitializations = 250_000;

export function newInitBatches(): InitBatches {
  return { pending: {}, pendingCount: 0, outstanding: {}, nextBatch: {}, done: {}, doneOrder: [] };
}

/**
 * Adds a commissioned meter to its concentrator's batch. Returns false when the meter is
 * already outstanding (pending or in an unfinished job), or this very commissioning (same
 * instant) was initialized already: then nothing changes.
 */
export function addCommissioned(
  batches: InitBatches,
  meterSerial: string,
  concentratorId: string,
  commissionedAtMs: number,
): boolean {
  if (batches.outstanding[meterSerial] !== undefined) return false;
  if (batches.done[meterSerial] === commissionedAtMs) return false;
  batches.outstanding[meterSerial] = commissionedAtMs;
  let pending = batches.pending[concentratorId];
  if (!pending) {
    pending = [];
    batches.pending[concentratorId] = pending;
  }
  pending.push(meterSerial);
  batches.pendingCount += 1;
  return true;
}

/** The concentrator's pending meters when they fill a job of `maxMeters`, taken out of pending. */
export function takeFullBatch(
  batches: InitBatches,
  concentratorId: string,
  maxMeters: number,
): string[] | undefined {
  const pending = batches.pending[concentratorId];
  if (!pending || pending.length < maxMeters) return undefined;
  const batch = pending.splice(0, maxMeters);
  batches.pendingCount -= batch.length;
  if (pending.length === 0) delete batches.pending[concentratorId];
  return batch;
}

/** Every pending meter, as batches of at most `maxMeters` per concentrator; pending is left empty. */
export function takeAllBatches(
  batches: InitBatches,
  maxMeters: number,
): { concentratorId: string; meters: string[] }[] {
  const taken: { concentratorId: string; meters: string[] }[] = [];
  for (const [concentratorId, pending] of Object.entries(batches.pending))
    for (let i = 0; i < pending.length; i += maxMeters)
      taken.push({ concentratorId, meters: pending.slice(i, i + maxMeters) });
  batches.pending = {};
  batches.pendingCount = 0;
  return taken;
}

/** The id of the concentrator's next initialization job. */
export function nextInitJobId(batches: InitBatches, concentratorId: string): string {
  const n = batches.nextBatch[concentratorId] ?? 1;
  batches.nextBatch[concentratorId] = n + 1;
  return `init:${concentratorId}:${n}`;
}

/**
 * These meters are done (initialized, or given up): a new commissioning starts anew, the same
 * one delivered again is ignored while remembered.
 */
export function settleMeters(batches: InitBatches, meters: readonly string[]): void {
  for (const serial of meters) {
    const commissionedAtMs = batches.outstanding[serial];
    if (commissionedAtMs === undefined) continue;
    delete batches.outstanding[serial];
    batches.done[serial] = commissionedAtMs;
    batches.doneOrder.push([serial, commissionedAtMs]);
  }
  forgetOldestOverCap(batches);
}

/** Over the cap, the oldest 1/16 go at once, so the order array moves once per many entries. */
function forgetOldestOverCap(batches: InitBatches): void {
  const order = batches.doneOrder;
  if (order.length <= maxRememberedInitializations) return;
  const drop = order.length - maxRememberedInitializations + Math.floor(maxRememberedInitializations / 16);
  for (const [serial, atMs] of order.slice(0, drop))
    if (batches.done[serial] === atMs) delete batches.done[serial];
  order.splice(0, drop);
}

/** Drops a removed concentrator's pending meters (its batch number is kept: ids are never reused). */
export function dropConcentrator(batches: InitBatches, concentratorId: string): void {
  const pending = batches.pending[concentratorId];
  if (!pending) return;
  for (const serial of pending) delete batches.outstanding[serial];
  batches.pendingCount -= pending.length;
  delete batches.pending[concentratorId];
}
