import { describe, expect, it } from 'vitest';
import type { CommandEvent } from '../../actors/hosting/command-actor.js';
import { clockedJobsManagerActor, nextJobsReminder } from '../../actors/hosting/jobs-manager-actor.js';
import type { HostedCommand, OutboxEntry } from '../../actors/hosting/outbox.js';
import {
  applyClockedJobsCommand,
  type ClockedJobsManagerCommand,
  type ClockedJobsManagerState,
  newClockedJobsManager,
  nextJobsDueMs,
} from '../../actors/jobs-manager/reminder-clock.js';
import type { JobsManagerEffect } from '../../actors/jobs-manager/state.js';
import type { DayClock } from '../../actors/work-manager/day-clock.js';
import type { Decision, ReminderRequest } from '../../cluster/actors/actor-definition.js';
import { job, t0 } from './job-fixtures.js';

/**
 * The jobs manager's durable reminder (wall-clock deployments): the next due instant from
 * its indexes, coalescing, the reminder re-registered after each fire, a repeated fire
 * running once, and no reminder on a simulated (rate != 1) clock.
 */

const second = 1_000;
const timings = { backoffBaseMs: 2 * second, backoffMaxMs: 8 * second, attemptTimeoutMs: 5 * second };
const realClock = (minIntervalMs = 250): DayClock => ({ simAtMs: t0, wallAtMs: t0, rate: 1, minIntervalMs });

function machine(clock: DayClock | undefined = realClock()) {
  const state = newClockedJobsManager(timings);
  const apply = (command: ClockedJobsManagerCommand, nowMs: number) =>
    applyClockedJobsCommand(state, command, nowMs).effects;
  if (clock) apply({ type: 'setClock', clock }, t0);
  return { state, apply };
}

const failed = { ok: false as const, retryable: true, errorCode: 'MF_X', errorMessage: 'no answer' };

describe('jobs manager next due instant (pure)', () => {
  it('is the earliest of attempt timeout, backoff end and queued deadline, from the indexes', () => {
    const { state, apply } = machine();
    expect(nextJobsDueMs(state)).toBeUndefined();
    expect(state.nextTickMs).toBeUndefined();
    // Queued (its concentrator busy with another attempt): its deadline is due.
    apply({ type: 'submit', job: job('a', { concentratorId: 'C1', deadlineMs: t0 + 60 * second }) }, t0);
    expect(nextJobsDueMs(state)).toBe(t0 + 60 * second);
    // Dispatched: the attempt times out first.
    const dispatched = apply({ type: 'tick' }, t0);
    expect(dispatched).toEqual([expect.objectContaining({ type: 'dispatch', attempt: 1 })]);
    expect(nextJobsDueMs(state)).toBe(t0 + timings.attemptTimeoutMs);
    expect(state.nextTickMs).toBe(t0 + timings.attemptTimeoutMs);
    // The attempt failed at t0+1s: a retry is scheduled after its backoff (2 s).
    apply({ type: 'attemptResult', jobId: 'a', attempt: 1, result: failed }, t0 + second);
    expect(state.backoff).toEqual(['a']);
    expect(nextJobsDueMs(state)).toBe(t0 + 3 * second);
    expect(state.nextTickMs).toBe(t0 + 3 * second);
  });

  it('leaves no due instant once the last job completed', () => {
    const { state, apply } = machine();
    apply({ type: 'submit', job: job('a') }, t0);
    apply({ type: 'tick' }, t0);
    expect(state.nextTickMs).toBe(t0 + timings.attemptTimeoutMs);
    const effects = apply(
      { type: 'attemptResult', jobId: 'a', attempt: 1, result: { ok: true } },
      t0 + second,
    );
    expect(effects).toEqual([expect.objectContaining({ type: 'outcome' })]);
    // The timeout index still holds its lower bound; nothing is in flight, so it is not due.
    expect(state.nextAttemptTimeoutMs).toBe(t0 + timings.attemptTimeoutMs);
    expect(nextJobsDueMs(state)).toBeUndefined();
    expect(state.nextTickMs).toBeUndefined();
  });

  it('coalesces: the next reminder tick is at least minIntervalMs after the last one', () => {
    const { state, apply } = machine(realClock(10 * second));
    apply({ type: 'submit', job: job('a') }, t0);
    apply({ type: 'tick' }, t0);
    const timeoutAt = t0 + timings.attemptTimeoutMs;
    expect(state.nextTickMs).toBe(timeoutAt); // no reminder tick yet: nothing to coalesce with
    const effects = apply({ type: 'reminderTick', atMs: timeoutAt }, timeoutAt);
    // Timed out and retried after 2 s of backoff, but the next tick waits out the 10 s interval.
    expect(effects).toEqual([]);
    expect(state.backoff).toEqual(['a']);
    expect(nextJobsDueMs(state)).toBe(timeoutAt + 2 * second);
    expect(state.nextTickMs).toBe(timeoutAt + 10 * second);
  });

  it('runs a repeated or stale reminder tick once', () => {
    const { state, apply } = machine();
    apply({ type: 'submit', job: job('a') }, t0);
    apply({ type: 'tick' }, t0);
    const timeoutAt = t0 + timings.attemptTimeoutMs;
    apply({ type: 'reminderTick', atMs: timeoutAt }, timeoutAt);
    const backoffEnd = timeoutAt + timings.backoffBaseMs;
    expect(state.nextTickMs).toBe(backoffEnd);
    const first = apply({ type: 'reminderTick', atMs: backoffEnd }, backoffEnd);
    expect(first).toEqual([expect.objectContaining({ type: 'dispatch', attempt: 2 })]);
    const before = JSON.stringify(state);
    expect(apply({ type: 'reminderTick', atMs: backoffEnd }, backoffEnd + 50)).toEqual([]);
    expect(apply({ type: 'reminderTick', atMs: timeoutAt }, backoffEnd + 60)).toEqual([]);
    expect(JSON.stringify(state)).toBe(before);
  });

  it('registers no reminder on a simulated clock unless asked to', () => {
    const sim: DayClock = { simAtMs: t0, wallAtMs: t0, rate: 1440, minIntervalMs: 250 };
    const { state, apply } = machine(sim);
    apply({ type: 'submit', job: job('a') }, t0);
    apply({ type: 'tick' }, t0);
    expect(state.onReminders).toBe(false);
    expect(state.nextTickMs).toBeUndefined();
    apply({ type: 'setClock', clock: sim, reminders: true }, t0);
    // Coalesced on the simulated clock: 250 wall ms are 360 simulated seconds.
    expect(state.nextTickMs).toBe(t0 + timings.attemptTimeoutMs);
    apply({ type: 'clearClock' }, t0);
    expect(state.nextTickMs).toBeUndefined();
  });

  it('refuses bad timings with a clear error and keeps its state', () => {
    const { state, apply } = machine();
    apply({ type: 'submit', job: job('a') }, t0);
    const before = JSON.stringify(state);
    expect(() =>
      apply({ type: 'setClock', clock: realClock(), timings: { attemptTimeoutMs: 5 } }, t0),
    ).toThrow(/attemptTimeoutMs must be 1000\.\.86400000 ms/);
    expect(() =>
      apply(
        { type: 'setClock', clock: realClock(), timings: { retries: 3 } as unknown as typeof timings },
        t0,
      ),
    ).toThrow(/unknown field retries/);
    expect(() => apply({ type: 'setClock', clock: { ...realClock(), rate: -1 } }, t0)).toThrow(/rate/);
    expect(JSON.stringify(state)).toBe(before);
  });
});

type Call = CommandEvent<HostedCommand<unknown>>;
type Entries = { effects: OutboxEntry<JobsManagerEffect>[] };
const key = 'jobs-manager';

function actor() {
  let state = clockedJobsManagerActor.initialState(key);
  const call = (method: string, arg: unknown, wallMs: number): Decision<Call> => {
    const decision = clockedJobsManagerActor.handle(state, method, arg, { key, nowMs: wallMs });
    if (decision.event) state = clockedJobsManagerActor.apply(state, decision.event);
    return decision;
  };
  const command = (commands: unknown[], atMs: number) =>
    call('command', { command: { type: 'deliver', deliveries: [{ commands }] }, atMs }, atMs);
  return { call, command, inner: (): ClockedJobsManagerState => state.inner };
}
const effectsOf = (d: Decision<Call>) => (d.result as Entries).effects.flatMap((e) => e.effects);
const fire = (a: ReturnType<typeof actor>, r: ReminderRequest, lateMs = 0) =>
  a.call(r.method, r.arg, r.dueAtMs + lateMs);

describe('jobs manager actor on its reminder', () => {
  it('times out and retries an unanswered attempt on reminders alone, re-registering after each fire', () => {
    const a = actor();
    expect(a.command([{ type: 'setClock', clock: realClock(), timings }], t0).reminders).toBeUndefined();
    const submitted = a.command([{ type: 'submit', job: job('a', { maxAttempts: 2 }) }], t0);
    expect(effectsOf(submitted)).toEqual([expect.objectContaining({ type: 'dispatch', attempt: 1 })]);
    const timeout = submitted.reminders?.[0] as ReminderRequest;
    expect(timeout).toEqual({
      name: 'jobs-clock',
      dueAtMs: t0 + timings.attemptTimeoutMs,
      method: 'reminder',
      arg: { atMs: t0 + timings.attemptTimeoutMs },
    });
    // Fires 30 ms late: the attempt times out, the retry waits for its backoff.
    const timedOut = fire(a, timeout, 30);
    expect(effectsOf(timedOut)).toEqual([]);
    const backoff = timedOut.reminders?.[0] as ReminderRequest;
    expect(backoff.dueAtMs).toBe(t0 + timings.attemptTimeoutMs + 30 + timings.backoffBaseMs);
    // The same reminder fired again (a failover before its removal) does nothing.
    expect(effectsOf(fire(a, timeout, 40))).toEqual([]);
    const retried = fire(a, backoff);
    expect(effectsOf(retried)).toEqual([expect.objectContaining({ type: 'dispatch', attempt: 2 })]);
    // The second attempt times out too: the outcome is recorded once, and nothing is left due.
    const last = retried.reminders?.[0] as ReminderRequest;
    const outcome = fire(a, last);
    expect(effectsOf(outcome)).toEqual([
      expect.objectContaining({
        type: 'outcome',
        outcome: expect.objectContaining({
          status: 'failed',
          errorCode: 'MF_JOB_ATTEMPT_TIMEOUT',
          attempts: 2,
        }),
      }),
    ]);
    expect(outcome.reminders).toBeUndefined();
    expect(effectsOf(fire(a, last, 10))).toEqual([]);
    expect(nextJobsReminder(a.inner())).toBeUndefined();
  });

  it('has no reminder without a clock (the driver ticks)', () => {
    const a = actor();
    const submitted = a.command([{ type: 'submit', job: job('a') }], t0);
    expect(effectsOf(submitted)).toHaveLength(1);
    expect(submitted.reminders).toBeUndefined();
    expect(a.call('reminder', { atMs: t0 + 1 }, t0 + 1).result).toEqual({ effects: [] });
  });
});
