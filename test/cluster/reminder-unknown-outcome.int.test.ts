import { describe, expect, it } from 'vitest';
import { counterActor } from '../../cluster/actors/counter-actor.js';
import { maxPendingReconciles, type Reminder } from '../../cluster/actors/reminders.js';
import type { ReplicatorOptions } from '../../cluster/replicator/options.js';
import type { ReplicatedStore } from '../../cluster/replicator/store-api.js';
import { waitFor } from '../support/wait.js';
import { replicatedTurnPerTest } from './support/replicated-turn.js';

/**
 * A turn whose persist (event + reminder in one replicated operation) fails with an unknown
 * outcome, on a primary that stays primary of the same epoch (no reactivation, no start()):
 * real replica hosts over gRPC, a three-replica partition whose two secondaries are stopped
 * (the replicator's fault switches have none for this; stopping real replicas is how the
 * quorum-loss tests provoke it). When the operation did commit once a secondary returned, the
 * reminder fires once, when due; when it did not, no timer and no fire.
 */
const partition = 'counter/0';
const turn = replicatedTurnPerTest(partition);

async function threeReplicas(options: Partial<ReplicatorOptions>) {
  const { nodes, store } = await turn.startPartition(['a', 'b', 'c'], options);
  const [, b, c] = nodes;
  return { b: b!, c: c!, store };
}

/** The runtime's turn for the counter service on `store`; fires are recorded with their time. */
function host(store: ReplicatedStore) {
  const fired: { reminder: Reminder; atMs: number }[] = [];
  const { call, active } = turn.hostActor(store, {
    service: 'counter',
    key: 'm1',
    behaviour: counterActor,
    onFire: async (reminder) => {
      fired.push({ reminder, atMs: Date.now() });
    },
    callTimeoutMs: 60_000,
  });
  return { call, scheduler: active.reminders, fired };
}

const reminderKeys = async (store: ReplicatedStore) =>
  (await store.scan({})).map(([k]) => k).filter((k) => k.startsWith('__reminders/'));

describe('reminders of a persist whose outcome is unknown', () => {
  it('fires the reminder once, when due, if the timed-out operation committed on the same primary', {
    timeout: 90_000,
  }, async () => {
    // A long grace: the write is appended (not refused for quorum loss) and times out.
    const { b, c, store } = await threeReplicas({ writeTimeoutMs: 1_000, quorumLossGraceMs: 60_000 });
    const { call, scheduler, fired } = host(store);
    await call('increment', { by: 1 }, 'c-0'); // activates the actor; the epoch barrier commits
    await b.stop();
    await c.stop();

    const dueAtMs = Date.now() + 5_000;
    const reply = await call('incrementAndRemind', { name: 'wake', dueAtMs, by: 2 }, 'c-1');
    expect(reply).toMatchObject({ ok: false, code: 'MF_NO_WRITE_QUORUM' });
    expect(scheduler.scheduled).toBe(0);
    expect(scheduler.pendingReconciles).toBe(1);

    // A secondary returns: the pending operation commits on this primary (epoch 1 still).
    await b.restart();
    await waitFor(() => fired.length > 0, 'the reminder to fire without a reactivation', 60_000);
    expect(fired.map((f) => f.reminder.idem)).toEqual([`reminder:m1:wake@${dueAtMs}`]);
    expect(fired[0]!.atMs).toBeGreaterThanOrEqual(dueAtMs);
    expect(store.status()).toMatchObject({ role: 'primary', epoch: 1 });
    const keys = (await store.scan({})).map(([k]) => k);
    expect(keys).toContain(`__actors/${partition}|m1/e/000000000002`);
    // Fired once: removed from the store after the fire, no timer left, no second fire.
    await waitFor(async () => (await reminderKeys(store)).length === 0, 'the fired reminder removed');
    expect(scheduler.scheduled).toBe(0);
    expect(scheduler.pendingReconciles).toBe(0);
    expect(fired).toHaveLength(1);
  });

  it('arms no timer and fires nothing if the operation did not commit', { timeout: 90_000 }, async () => {
    // A short grace: with both secondaries gone the write is refused (never appended).
    const { b, c, store } = await threeReplicas({ writeTimeoutMs: 1_000, quorumLossGraceMs: 300 });
    const { call, scheduler, fired } = host(store);
    await call('increment', { by: 1 }, 'c-0');
    await b.stop();
    await c.stop();
    await waitFor(
      () =>
        store.replicate([]).then(
          () => false,
          (err: { code: string }) => err.code === 'MF_QUORUM_LOSS',
        ),
      'the primary to refuse writes for quorum loss',
    );

    const dueAtMs = Date.now() + 1_500;
    const reply = await call('incrementAndRemind', { name: 'wake', dueAtMs, by: 2 }, 'c-1');
    expect(reply).toMatchObject({ ok: false, code: 'MF_QUORUM_LOSS' });
    expect(scheduler.pendingReconciles).toBe(1);

    await b.restart();
    await waitFor(() => scheduler.pendingReconciles === 0, 'the reconcile to learn the outcome', 60_000);
    expect(scheduler.scheduled).toBe(0);
    expect(await reminderKeys(store)).toEqual([]);
    const keys = (await store.scan({})).map(([k]) => k);
    expect(keys).not.toContain(`__actors/${partition}|m1/e/000000000002`);
    // Past its due time: still nothing fired.
    await waitFor(() => Date.now() > dueAtMs + 500, 'the due time to pass');
    expect(fired).toEqual([]);
    expect(store.status()).toMatchObject({ role: 'primary', epoch: 1 });
  });

  it('drops pending reconciles on deactivation (bounded queue); the next start() finds the committed reminder', {
    timeout: 90_000,
  }, async () => {
    const { b, c, store } = await threeReplicas({ writeTimeoutMs: 1_000, quorumLossGraceMs: 60_000 });
    const { call, scheduler } = host(store);
    await call('increment', { by: 1 }, 'c-0');
    await b.stop();
    await c.stop();
    const dueAtMs = Date.now() + 3_000;
    const reply = await call('incrementAndRemind', { name: 'wake', dueAtMs, by: 2 }, 'c-1');
    expect(reply).toMatchObject({ ok: false, code: 'MF_NO_WRITE_QUORUM' });
    // The queue is bounded: reminders beyond maxPendingReconciles are not queued.
    const extra: Reminder[] = Array.from({ length: maxPendingReconciles }, (_, i) => ({
      service: 'counter',
      key: `x${i}`,
      name: 'n',
      dueAtMs,
      method: 'increment',
      arg: { by: 1 },
      idem: `reminder:x${i}:n@${dueAtMs}`,
    }));
    scheduler.reconcile(extra);
    expect(scheduler.pendingReconciles).toBe(maxPendingReconciles);

    // Deactivated (primary role lost here) while the outcome is still unknown: nothing pending.
    scheduler.stop();
    expect(scheduler.pendingReconciles).toBe(0);
    await b.restart();
    await waitFor(async () => (await reminderKeys(store)).length === 1, 'the operation to commit');
    expect(scheduler.scheduled).toBe(0);

    // The next activation's start() loads it from the store and it fires there, once.
    const fired: Reminder[] = [];
    const next = turn.reminderScheduler(store, async (r) => {
      fired.push(r);
    });
    await next.start();
    await waitFor(() => fired.length > 0, 'the reminder to fire after start()');
    expect(fired.map((r) => r.idem)).toEqual([`reminder:m1:wake@${dueAtMs}`]);
  });
});
