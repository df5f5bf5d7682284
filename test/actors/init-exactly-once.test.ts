import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../actors/domain/jobs.js';
import {
  applyJobsManagerCommand,
  type JobsManagerCommand,
  type JobsManagerState,
  newJobsManager,
} from '../../actors/jobs-manager/state.js';
import {
  applyWorkManagerCommand,
  newWorkManager,
  type WorkManagerCommand,
  type WorkManagerState,
} from '../../actors/work-manager/schedule.js';

/**
 * Property: whatever the interleaving of commissionings (delivered again too), ticks, partial and
 * whole failures and resubmitted duplicate jobs, every commissioned meter is initialized exactly
 * once by the work manager and the jobs manager together. "Initialized" is what the field did:
 * a meter counts each time an attempt the jobs manager dispatched reports it initialized.
 */

const minute = 60_000;
const meterCount = 24;
const concentratorOf = (meter: number) => `C${meter % 3}`;

type Op =
  | { op: 'commission'; meter: number }
  | { op: 'tick'; advanceMs: number }
  | { op: 'answer'; pick: number; outcome: 'ok' | 'partial' | 'fail'; failMask: number }
  | { op: 'resubmit'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('commission' as const), meter: fc.nat(meterCount - 1) }),
  fc.record({ op: fc.constant('tick' as const), advanceMs: fc.integer({ min: 0, max: 20 * minute }) }),
  fc.record({
    op: fc.constant('answer' as const),
    pick: fc.nat(),
    outcome: fc.constantFrom('ok' as const, 'partial' as const, 'fail' as const),
    failMask: fc.nat(0xffff),
  }),
  fc.record({ op: fc.constant('resubmit' as const), pick: fc.nat() }),
);

class Harness {
  nowMs = Date.UTC(2026, 0, 1, 12);
  readonly wm: WorkManagerState = newWorkManager({
    maxMetersPerInitJob: 4,
    collectionRetryDelayMs: 10 * minute,
    maxCollectionRetries: 1_000,
  });
  // Attempts never time out here: a late answer after a timeout would be the field initializing
  // a meter the head-end gave up on, which no bookkeeping can undo.
  readonly jm: JobsManagerState = newJobsManager({ attemptTimeoutMs: 365 * 86_400_000 });
  readonly inFlight: { job: Job; attempt: number }[] = [];
  readonly submitted: Job[] = [];
  readonly initialized = new Map<string, number>();
  readonly commissionedAtMs = new Map<string, number>();

  toWorkManager(command: WorkManagerCommand): void {
    for (const effect of applyWorkManagerCommand(this.wm, command, this.nowMs).effects) {
      this.submitted.push(effect.job);
      this.toJobsManager({ type: 'submit', job: effect.job });
    }
    this.toJobsManager({ type: 'tick' });
  }

  toJobsManager(command: JobsManagerCommand): void {
    for (const effect of applyJobsManagerCommand(this.jm, command, this.nowMs).effects) {
      if (effect.type === 'dispatch') this.inFlight.push({ job: effect.job, attempt: effect.attempt });
      else if (effect.type === 'outcome') this.toWorkManager({ type: 'jobOutcome', outcome: effect.outcome });
    }
  }

  /** A meter's commissioning; for a meter commissioned already, the same event delivered again. */
  commission(meter: number): void {
    const serial = `M${meter}`;
    const atMs = this.commissionedAtMs.get(serial) ?? this.nowMs;
    this.commissionedAtMs.set(serial, atMs);
    this.toWorkManager({
      type: 'meterCommissioned',
      meterSerial: serial,
      concentratorId: concentratorOf(meter),
      atMs,
    });
  }

  tick(advanceMs: number): void {
    this.nowMs += advanceMs;
    this.toWorkManager({ type: 'tick' });
  }

  answer(index: number, outcome: 'ok' | 'partial' | 'fail', failMask: number): void {
    const [taken] = this.inFlight.splice(index, 1);
    if (!taken) return;
    const meters = taken.job.meterSerials;
    const failed =
      outcome === 'ok' ? [] : outcome === 'fail' ? meters : meters.filter((_, i) => (failMask >> i) & 1);
    for (const serial of meters)
      if (!failed.includes(serial)) this.initialized.set(serial, (this.initialized.get(serial) ?? 0) + 1);
    const result =
      failed.length === meters.length
        ? { ok: false as const, retryable: true, errorCode: 'MF_DEVICE_INIT_FAILED', errorMessage: 'refused' }
        : { ok: true as const, ...(failed.length > 0 ? { failedMeters: failed } : {}) };
    this.toJobsManager({ type: 'attemptResult', jobId: taken.job.id, attempt: taken.attempt, result });
    this.toJobsManager({ type: 'tick' });
  }

  apply(op: Op): void {
    if (op.op === 'commission') this.commission(op.meter);
    else if (op.op === 'tick') this.tick(op.advanceMs);
    else if (op.op === 'answer') {
      if (this.inFlight.length > 0) this.answer(op.pick % this.inFlight.length, op.outcome, op.failMask);
    } else {
      const job = this.submitted[op.pick % Math.max(1, this.submitted.length)];
      if (job) this.toJobsManager({ type: 'submit', job });
    }
  }

  /** From here on the field initializes everything it is asked; time moves past every retry delay. */
  drain(): void {
    for (let round = 0; round < 200; round++) {
      while (this.inFlight.length > 0) this.answer(0, 'ok', 0);
      const idle =
        Object.keys(this.wm.init.outstanding).length === 0 &&
        this.jm.queues.normal.length === 0 &&
        this.inFlight.length === 0;
      if (idle) return;
      this.tick(11 * minute);
    }
    throw new Error('the head-end did not become idle');
  }
}

describe('initialization exactly once (property)', () => {
  it('every commissioned meter is initialized exactly once across random commission/failure interleavings', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => {
        const h = new Harness();
        for (const op of ops) h.apply(op);
        h.drain();
        for (const serial of h.commissionedAtMs.keys()) expect(h.initialized.get(serial), serial).toBe(1);
        expect([...h.initialized.keys()].filter((s) => !h.commissionedAtMs.has(s))).toEqual([]);
        // Every job carried meters of one concentrator only, at most maxMetersPerInitJob.
        for (const job of h.submitted) {
          expect(job.meterSerials.length).toBeGreaterThan(0);
          expect(job.meterSerials.length).toBeLessThanOrEqual(4);
          for (const serial of job.meterSerials)
            expect(concentratorOf(Number(serial.slice(1)))).toBe(job.concentratorId);
        }
      }),
      { numRuns: 300 },
    );
  });
});
