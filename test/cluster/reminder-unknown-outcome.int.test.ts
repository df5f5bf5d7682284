import { configurePersistence, query, type Ref, spawnPersistent, start, stop } from 'nact';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CallMsg,
  type CallReply,
  createSpawnOptions,
  newActivePartition,
} from '../../cluster/actors/actor-turn.js';
import { counterActor } from '../../cluster/actors/counter-actor.js';
import { maxPendingReconciles, type Reminder, ReminderScheduler } from '../../cluster/actors/reminders.js';
import { ReplicatedPersistenceEngine } from '../../cluster/actors/replicated-persistence-engine.js';
import { ReplicatedReminderStore } from '../../cluster/actors/replicated-reminder-store.js';
import type { PartitionConfiguration } from '../../cluster/replicator/contract.js';
import type { ReplicatorOptions } from '../../cluster/replicator/options.js';
import type { ReplicatedStore } from '../../cluster/replicator/store-api.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { addressBook, config, removeNodeData, startNode, type TestNode } from '../replicator/support.js';
import { waitFor } from '../support/wait.js';

/**
 * A turn whose persist (event + reminder in one replicated operation) fails with an unknown
 * outcome, on a primary that stays primary of the same epoch (no reactivation, no start()):
 * real replica hosts over gRPC, a three-replica partition whose two secondaries are stopped
 * (the replicator's fault switches have none for this; stopping real replicas is how the
 * quorum-loss tests provoke it). When the operation did commit once a secondary returned, the
 * reminder fires once, when due; when it did not, no timer and no fire.
 */
let nodes: TestNode[] = [];
let systems: ReturnType<typeof start>[] = [];
let schedulers: ReminderScheduler[] = [];
afterEach(async () => {
  for (const s of schedulers) s.stop();
  schedulers = [];
  for (const s of systems) stop(s);
  systems = [];
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  nodes = [];
});

const partition = 'counter/0';

async function threeReplicas(options: Partial<ReplicatorOptions>) {
  const [a, b, c] = [
    await startNode('a', options),
    await startNode('b', options),
    await startNode('c', options),
  ];
  nodes = [a, b, c];
  const cfg = config(partition, 1, 'a', ['a', 'b', 'c']);
  await (await b.host.replica(partition)).becomeSecondary(cfg);
  await (await c.host.replica(partition)).becomeSecondary(cfg);
  const replica = await a.host.replica(partition);
  await replica.becomePrimary(cfg, addressBook(nodes));
  return { b, c, store: replica as unknown as ReplicatedStore };
}

/** The runtime's turn for the counter service on `store`; fires are recorded with their time. */
function host(store: ReplicatedStore) {
  const system = start(configurePersistence(new ReplicatedPersistenceEngine(store)));
  systems.push(system);
  const fired: { reminder: Reminder; atMs: number }[] = [];
  const scheduler = new ReminderScheduler(
    new ReplicatedReminderStore(store),
    systemClock,
    silentLogger,
    async (reminder) => {
      fired.push({ reminder, atMs: Date.now() });
    },
  );
  schedulers.push(scheduler);
  const active = newActivePartition({ partition, epoch: 1 } as PartitionConfiguration, system, scheduler);
  const options = createSpawnOptions(active, counterActor, 'counter', {
    dedup: true,
    clock: systemClock,
    logger: silentLogger,
    invoke: async () => undefined,
    send: () => undefined,
  });
  const ref = spawnPersistent(
    system,
    options.handler as never,
    `${partition}|m1`,
    'm1',
    options.properties as never,
  ) as Ref<CallMsg>;
  const call = (method: string, arg: unknown, idem: string): Promise<CallReply> =>
    query(ref, (sender: Ref<CallReply>) => ({ kind: 'call', method, arg, idem, sender }), 60_000);
  return { call, scheduler, fired };
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
    const next = new ReminderScheduler(
      new ReplicatedReminderStore(store),
      systemClock,
      silentLogger,
      async (r) => {
        fired.push(r);
      },
    );
    schedulers.push(next);
    await next.start();
    await waitFor(() => fired.length > 0, 'the reminder to fire after start()');
    expect(fired.map((r) => r.idem)).toEqual([`reminder:m1:wake@${dueAtMs}`]);
  });
});
