import { describe, expect, it } from 'vitest';
import type { CommandEvent } from '../../actors/hosting/command-actor.js';
import type { HostedCommand, OutboxEntry } from '../../actors/hosting/outbox.js';
import { hostedWorkManagerActor, nextReminder } from '../../actors/hosting/work-manager-actor.js';
import { type DayClock, simAt, wallAt } from '../../actors/work-manager/day-clock.js';
import type { WorkManagerEffect } from '../../actors/work-manager/schedule.js';
import type { Decision, ReminderRequest } from '../../cluster/actors/actor-definition.js';

/**
 * The work manager's day clock and its durable reminder, on the actor behaviour itself (what
 * a node runs): the mapping between wall and simulated time, the coalescing bound, the
 * reminder re-registered after every fire, and a repeated fire running once.
 */

const minute = 60_000;
const hour = 60 * minute;
const dayStart = Date.UTC(2026, 2, 10);
const wall0 = 1_800_000_000_000;
const key = 'wm';

type Call = CommandEvent<HostedCommand<unknown>>;
type Entries = { effects: OutboxEntry<WorkManagerEffect>[] };

function actor() {
  let state = hostedWorkManagerActor.initialState(key);
  const call = (method: string, arg: unknown, wallMs: number): Decision<Call> => {
    const decision = hostedWorkManagerActor.handle(state, method, arg, { key, nowMs: wallMs });
    if (decision.event) state = hostedWorkManagerActor.apply(state, decision.event);
    return decision;
  };
  const command = (commands: unknown[], atMs: number, wallMs: number) =>
    call('command', { command: { type: 'deliver', deliveries: [{ commands }] }, atMs }, wallMs);
  return { call, command, state: () => state };
}

const jobsOf = (d: Decision<Call>) =>
  (d.result as Entries).effects.flatMap((e) => e.effects.map((x) => x.job));

/** Fires the reminder as the runtime would: at its wall due time, with its arg. */
function fire(a: ReturnType<typeof actor>, reminder: ReminderRequest, lateMs = 0): Decision<Call> {
  return a.call(reminder.method, reminder.arg, reminder.dueAtMs + lateMs);
}

describe('work manager day clock', () => {
  it('maps wall time to simulated time and back', () => {
    const clock: DayClock = { simAtMs: dayStart, wallAtMs: wall0, rate: 1440, minIntervalMs: 250 };
    expect(simAt(clock, wall0)).toBe(dayStart);
    expect(simAt(clock, wall0 + 60_000)).toBe(dayStart + 24 * hour);
    expect(wallAt(clock, dayStart + 24 * hour)).toBe(wall0 + 60_000);
    for (const w of [wall0 + 1, wall0 + 12_345, wall0 + 59_999])
      expect(wallAt(clock, simAt(clock, w))).toBe(w);
    // Back from a simulated instant between two wall ms: the first wall ms at which it is reached.
    for (const s of [dayStart + 1, dayStart + 5 * minute + 7, dayStart + 13 * hour + 999]) {
      const w = wallAt(clock, s);
      expect(simAt(clock, w)).toBeGreaterThanOrEqual(s);
      expect(simAt(clock, w - 1)).toBeLessThan(s);
    }
    const real: DayClock = { simAtMs: wall0, wallAtMs: wall0, rate: 1, minIntervalMs: 1000 };
    expect(simAt(real, wall0 + 5_000)).toBe(wall0 + 5_000);
    expect(wallAt(real, wall0 + 5_000)).toBe(wall0 + 5_000);
  });

  it('without a day clock registers no reminder (the driver ticks, as before)', () => {
    const a = actor();
    const d = a.command(
      [{ type: 'addConcentrator', concentratorId: 'C1', timeZone: 'UTC' }],
      dayStart,
      wall0,
    );
    expect(d.reminders).toBeUndefined();
    expect(nextReminder(a.state().inner)).toBeUndefined();
  });

  it('refuses a day clock with a bad rate or interval and changes nothing', () => {
    const a = actor();
    for (const clock of [
      { simAtMs: dayStart, wallAtMs: wall0, rate: 0, minIntervalMs: 250 },
      { simAtMs: dayStart, wallAtMs: wall0, rate: 1440, minIntervalMs: 1 },
      { simAtMs: dayStart, wallAtMs: wall0, rate: 1440, minIntervalMs: 250, untilSimMs: dayStart - 1 },
    ]) {
      const d = a.command([{ type: 'setClock', clock }], dayStart, wall0);
      const entry = (d.result as Entries).effects[0]!;
      expect(entry.refused?.[0]?.code).toBe('MF_HEADEND_INVALID_INPUT');
      expect(a.state().inner.dayClock).toBeUndefined();
      expect(d.reminders).toBeUndefined();
    }
  });

  it('runs a 1440x day from its reminders alone: coalesced ticks on due instants, re-registered after each fire, ending at untilSimMs', () => {
    const a = actor();
    a.command(
      [
        { type: 'addConcentrator', concentratorId: 'C1', timeZone: 'UTC' },
        { type: 'addConcentrator', concentratorId: 'C2', timeZone: 'Europe/Rome' },
      ],
      dayStart,
      wall0,
    );
    const endMs = dayStart + 25 * hour;
    const clock: DayClock = {
      simAtMs: dayStart,
      wallAtMs: wall0,
      rate: 1440,
      minIntervalMs: 250,
      untilSimMs: endMs,
    };
    const started = a.command([{ type: 'setClock', clock }], dayStart, wall0);
    let reminder = started.reminders?.[0];
    expect(reminder).toMatchObject({
      name: 'day-clock',
      dueAtMs: wall0,
      method: 'reminder',
      arg: { atMs: dayStart },
    });
    const ticks: { simMs: number; wallMs: number }[] = [];
    const jobIds: string[] = [];
    while (reminder) {
      const atMs = (reminder.arg as { atMs: number }).atMs;
      const d = fire(a, reminder);
      ticks.push({ simMs: atMs, wallMs: reminder.dueAtMs });
      jobIds.push(...jobsOf(d).map((j) => j.id));
      expect(a.state().inner.lastTickMs).toBe(atMs);
      const next = d.reminders?.[0];
      if (next) {
        // Re-registered after each fire, for a later instant, under the same name (it replaces the fired one).
        expect(next.name).toBe(reminder.name);
        expect(next.dueAtMs).toBeGreaterThan(reminder.dueAtMs);
        expect((next.arg as { atMs: number }).atMs).toBe(a.state().inner.nextTickMs);
      }
      reminder = next;
      expect(ticks.length).toBeLessThan(1000);
    }
    // The coalescing bound: at most one tick per 250 wall ms...
    for (let i = 1; i < ticks.length; i++)
      expect(ticks[i]!.wallMs - ticks[i - 1]!.wallMs).toBeGreaterThanOrEqual(250);
    // ...each on the schedule's own instants (5-minute closure checks, slots), the last at the day's end.
    for (const t of ticks) expect(t.simMs % (5 * minute)).toBe(0);
    expect(ticks.at(-1)!.simMs).toBe(endMs);
    expect(ticks.length).toBeLessThanOrEqual(Math.ceil((25 * hour) / (250 * 1440)) + 1);
    // Every load profile slot of the day and both closures, each once.
    for (const c of ['C1', 'C2']) {
      for (let s = dayStart; s <= endMs; s += hour) expect(jobIds).toContain(`lp:${c}:${s}`);
      expect(jobIds).toContain(`dc:${c}:2026-03-10`);
    }
    expect(new Set(jobIds).size).toBe(jobIds.length);
    expect(a.state().inner.nextTickMs).toBeUndefined();
  });

  it('a repeated fire of the same reminder runs once; a late one catches up in one tick', () => {
    const a = actor();
    a.command([{ type: 'addConcentrator', concentratorId: 'C1', timeZone: 'UTC' }], dayStart, wall0);
    const clock: DayClock = { simAtMs: dayStart, wallAtMs: wall0, rate: 1440, minIntervalMs: 250 };
    const first = a.command([{ type: 'setClock', clock }], dayStart, wall0).reminders![0]!;
    const d1 = fire(a, first);
    expect(jobsOf(d1).map((j) => j.id)).toEqual([`lp:C1:${dayStart}`]);
    const outboxBefore = a.state().outbox.length;
    // The same reminder again (e.g. its dedup entry evicted): no tick, no outbox entry, and the
    // reminder returned is the next one, not this one.
    const again = fire(a, first, 5);
    expect(again.event).toBeUndefined();
    expect(a.state().outbox.length).toBe(outboxBefore);
    expect(again.reminders?.[0]).toEqual(d1.reminders?.[0]);
    // A fire 3 s late (a failover at 1440x: 72 simulated minutes) ticks at its own instant,
    // and the next tick is the first due instant after "now", not every missed one in turn.
    const second = d1.reminders![0]!;
    const late = fire(a, second, 3_000);
    expect(jobsOf(late)).toEqual([]);
    const next = late.reminders![0]!;
    expect(next.dueAtMs).toBeGreaterThanOrEqual(second.dueAtMs + 3_000);
    const lateTick = fire(a, next);
    expect(jobsOf(lateTick).map((j) => j.id)).toEqual([`lp:C1:${dayStart + hour}`]);
  });

  it('a read re-arms the same reminder (the state alone decides it), so a lost registration heals', () => {
    const a = actor();
    const clock: DayClock = { simAtMs: dayStart, wallAtMs: wall0, rate: 60, minIntervalMs: 1000 };
    const set = a.command([{ type: 'setClock', clock }], dayStart, wall0).reminders![0]!;
    const fired = fire(a, set).reminders![0]!;
    const read = a.call('command', { command: { type: 'outbox' } }, wall0 + 777);
    expect(read.event).toBeUndefined();
    expect(read.reminders).toEqual([fired]);
    const cleared = a.command([{ type: 'clearClock' }], dayStart, wall0 + 800);
    expect(cleared.reminders).toBeUndefined();
    // The old reminder firing after the clock was cleared does nothing.
    const stale = fire(a, fired);
    expect(stale.event).toBeUndefined();
    expect(stale.reminders).toBeUndefined();
  });
  it('running ahead of a driver that is behind, asks for no N2Pload recovery while the last load profile job is out; once it fails, does', () => {
    const a = actor();
    a.command([{ type: 'addConcentrator', concentratorId: 'G', timeZone: 'UTC' }], dayStart, wall0);
    const clock: DayClock = { simAtMs: dayStart, wallAtMs: wall0, rate: 1440, minIntervalMs: 250 };
    let reminder = a.command([{ type: 'setClock', clock }], dayStart, wall0).reminders![0]!;
    const outcome = (
      jobId: string,
      status: 'succeeded' | 'failed',
      atMs: number,
      oldestCollectedMs?: number,
    ) =>
      a.command(
        [
          {
            type: 'jobOutcome',
            outcome: {
              jobId,
              status,
              attempts: 1,
              finishedAtMs: atMs,
              ...(oldestCollectedMs !== undefined ? { oldestCollectedMs } : {}),
            },
          },
        ],
        atMs,
        wall0,
      );
    const ids: string[] = [];
    const runUntil = (simMs: number) => {
      while ((reminder.arg as { atMs: number }).atMs <= simMs) {
        const d = fire(a, reminder);
        ids.push(...jobsOf(d).map((j) => j.id));
        reminder = d.reminders![0]!;
      }
    };
    runUntil(dayStart);
    outcome(`lp:G:${dayStart}`, 'succeeded', dayStart + minute, dayStart);
    // Five hours on, the driver has delivered none of the next load profile jobs: no outcome,
    // the data is in flight, not a gap (the gap threshold is 3 h).
    runUntil(dayStart + 5 * hour);
    expect(ids.filter((id) => id.startsWith('lp:'))).toHaveLength(6);
    expect(ids.filter((id) => id.startsWith('n2p:'))).toEqual([]);
    // The driver catches up and the concentrator was unreachable: the jobs fail, the data lags.
    for (let h = 1; h <= 5; h++) outcome(`lp:G:${dayStart + h * hour}`, 'failed', dayStart + 5 * hour);
    runUntil(dayStart + 5 * hour + 10 * minute);
    expect(ids.filter((id) => id.startsWith('n2p:'))).toEqual([`n2p:G:${dayStart}`]);
  });
});
