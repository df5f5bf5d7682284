import { describe, expect, it } from 'vitest';
import { counterActor } from '../../cluster/actors/counter-actor.js';
import type { Reminder } from '../../cluster/actors/reminders.js';
import { ReplicatedReminderStore } from '../../cluster/actors/replicated-reminder-store.js';
import type { ReplicatedStore } from '../../cluster/replicator/store-api.js';
import { addressBook, config, type TestNode } from '../replicator/support.js';
import { replicatedTurnPerTest } from './support/replicated-turn.js';

/**
 * A decision's event and reminders are committed in ONE replicated operation (the turn of
 * cluster/actors/actor-turn.ts over the real replicated store of a one-replica partition on
 * disk, through nact's persistence): the committed LSN advances by exactly one and both keys
 * are there, or, when that write fails, neither is there and nothing is scheduled.
 */
const partition = 'counter/0';
const turn = replicatedTurnPerTest(partition);

async function primary(): Promise<{ store: ReplicatedStore; node: TestNode }> {
  const { nodes, store } = await turn.startPartition(['a']);
  return { store, node: nodes[0]! };
}

/** The runtime's turn for the counter service on `store`, with fired reminders recorded. */
function host(store: ReplicatedStore) {
  const fired: Reminder[] = [];
  const { call, active } = turn.hostActor(store, {
    service: 'counter',
    key: 'm1',
    behaviour: counterActor,
    onFire: async (r) => {
      fired.push(r);
    },
    callTimeoutMs: 30_000,
  });
  return { call, active, fired };
}

const keysOf = async (store: ReplicatedStore) => (await store.scan({})).map(([k]) => k);

describe('a reminder is committed in the same replicated operation as its event', () => {
  it('puts the event and its reminder with one replicate call (committed LSN +1), then schedules it', {
    timeout: 60_000,
  }, async () => {
    const { store } = await primary();
    const { call, active } = host(store);
    // Activates the actor and lets the new epoch's own operation commit first.
    await call('increment', { by: 1 }, 'c-0');
    const before = store.status().committedLsn;
    const dueAtMs = Date.now() + 3_600_000;
    const reply = await call('incrementAndRemind', { name: 'wake', dueAtMs, by: 2 }, 'c-1');
    expect(reply).toEqual({ ok: true, result: { value: 3 } });

    expect(store.status().committedLsn).toBe(before + 1);
    const keys = await keysOf(store);
    expect(keys).toContain(`__actors/${partition}|m1/e/000000000002`);
    expect(keys).toContain('__reminders/counter|m1|wake');
    const stored = await new ReplicatedReminderStore(store).list();
    expect(stored).toEqual([
      {
        service: 'counter',
        key: 'm1',
        name: 'wake',
        dueAtMs,
        method: 'increment',
        arg: { by: 2 },
        idem: `reminder:m1:wake@${dueAtMs}`,
      },
    ]);
    // The stored event is the record without its reminders (they live in the dictionary).
    const event = JSON.parse(
      new TextDecoder().decode(await store.get(`__actors/${partition}|m1/e/000000000002`)),
    ) as { data: Record<string, unknown> };
    expect(event.data).toEqual({ idem: 'c-1', event: { by: 2 }, result: { value: 3 } });
    expect(active.reminders.scheduled).toBe(1);
  });

  it('commits nothing and schedules nothing when the persist fails', { timeout: 60_000 }, async () => {
    const { store, node } = await primary();
    const { call, active } = host(store);
    await call('increment', { by: 1 }, 'c-0'); // activates the actor on the primary
    const committed = store.status().committedLsn;
    // The replica stops being primary: the turn's replicated write is refused.
    await store.demote();
    const dueAtMs = Date.now() + 3_600_000;
    const reply = await call('incrementAndRemind', { name: 'wake', dueAtMs, by: 2 }, 'c-1');
    expect(reply.ok).toBe(false);
    expect(active.reminders.scheduled).toBe(0);

    // Primary again (next epoch): neither the event nor the reminder was committed.
    await store.becomePrimary(config(partition, 2, 'a', ['a'], committed), addressBook([node]));
    expect(store.status().committedLsn).toBe(committed);
    const keys = await keysOf(store);
    expect(keys).toContain(`__actors/${partition}|m1/e/000000000001`);
    expect(keys).not.toContain(`__actors/${partition}|m1/e/000000000002`);
    expect(keys.filter((k) => k.startsWith('__reminders/'))).toEqual([]);
  });

  it('fires the committed reminder once it is due (scheduled in memory, no second write)', {
    timeout: 60_000,
  }, async () => {
    const { store } = await primary();
    const { call, fired } = host(store);
    const dueAtMs = Date.now() + 300;
    await call('incrementAndRemind', { name: 'soon', dueAtMs, by: 1 }, 'c-1');
    const deadline = Date.now() + 30_000;
    while (fired.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fired.map((r) => r.idem)).toEqual([`reminder:m1:soon@${dueAtMs}`]);
  });
});
