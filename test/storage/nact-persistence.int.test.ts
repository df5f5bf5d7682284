import { configurePersistence, dispatch, query, spawnPersistent, start, stop } from 'nact';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicatedPersistenceEngine } from '../../storage/nact-persistence.js';
import { addressBook, config, removeNodeData, startNode, type TestNode } from '../replicator/support.js';
import { waitFor } from '../support/wait.js';

let nodes: TestNode[] = [];
afterEach(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  nodes = [];
});

type Msg = { type: 'add'; amount: number; sender?: unknown } | { type: 'get'; sender: unknown };

/** A persistent counter: `add` is persisted (quorum commit) before the state changes. */
function spawnCounter(system: ReturnType<typeof start>, key: string) {
  return spawnPersistent(
    system,
    async (state: number = 0, msg: Msg, actorCtx) => {
      // nact's typings omit what persistent actors get in their context
      const ctx = actorCtx as typeof actorCtx & { persist(m: Msg): Promise<void>; recovering?: boolean };
      if (msg.type === 'add') {
        if (!ctx.recovering) await ctx.persist(msg);
        const next = state + msg.amount;
        if (msg.sender) dispatch(msg.sender as never, next);
        return next;
      }
      dispatch(msg.sender as never, state);
      return state;
    },
    key,
    key,
    { snapshotEvery: 5 },
  );
}

describe('nact persistence over the replicated store', () => {
  it("ctx.persist commits through the replicator, and a persistent actor's state survives the death of its primary", async () => {
    nodes = [await startNode('a'), await startNode('b'), await startNode('c')];
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const cfg1 = config('actors/0', 1, 'a', ['a', 'b', 'c']);
    await (await b.host.replica('actors/0')).becomeSecondary(cfg1);
    await (await c.host.replica('actors/0')).becomeSecondary(cfg1);
    const ra = await a.host.replica('actors/0');
    await ra.becomePrimary(cfg1, addressBook(nodes));

    const system1 = start(configurePersistence(ReplicatedPersistenceEngine.forStore(ra).asNact()));
    const counter1 = spawnCounter(system1, 'meter-42');
    let last = 0;
    for (let i = 1; i <= 12; i++)
      last = await query(counter1, (sender) => ({ type: 'add', amount: i, sender }), 20_000);
    expect(last).toBe(78);
    const snapshot = await ReplicatedPersistenceEngine.forStore(ra).latestSnapshot('meter-42');
    expect(snapshot?.sequenceNumber).toBeGreaterThanOrEqual(5); // snapshots are replicated too
    stop(system1);

    // the primary dies; b takes over (fence, pick highest, new epoch) and replays the actor
    await a.stop();
    const rb = await b.host.replica('actors/0');
    const rc = await c.host.replica('actors/0');
    const prev = Math.max((await rb.fence(2)).lastPersistedLsn, (await rc.fence(2)).lastPersistedLsn);
    const cfg2 = config('actors/0', 2, 'b', ['b', 'c', 'a'], prev);
    await rc.becomeSecondary(cfg2);
    await rb.becomePrimary(cfg2, addressBook(nodes));
    const system2 = start(configurePersistence(ReplicatedPersistenceEngine.forStore(rb).asNact()));
    const counter2 = spawnCounter(system2, 'meter-42');
    expect(await query(counter2, (sender) => ({ type: 'get', sender }), 20_000)).toBe(78);
    expect(await query(counter2, (sender) => ({ type: 'add', amount: 2, sender }), 20_000)).toBe(80);
    const events = await ReplicatedPersistenceEngine.forStore(rb).events('meter-42', 0);
    expect(events.map((e) => e.sequenceNumber)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    stop(system2);
  });

  it('persist is refused (not acknowledged) without a write quorum, and is refused on a secondary', async () => {
    nodes = [await startNode('a', { quorumLossGraceMs: 100 }), await startNode('b'), await startNode('c')];
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const cfg = config('actors/1', 1, 'a', ['a', 'b', 'c']);
    await (await b.host.replica('actors/1')).becomeSecondary(cfg);
    await (await c.host.replica('actors/1')).becomeSecondary(cfg);
    const ra = await a.host.replica('actors/1');
    await ra.becomePrimary(cfg, addressBook(nodes));
    const engine = ReplicatedPersistenceEngine.forStore(ra);
    const event = (n: number) => ({
      key: 'k',
      sequenceNumber: n,
      data: { n },
      tags: [],
      createdAt: 0,
      isDeleted: false,
    });
    await engine.persist(event(1));
    await expect(
      ReplicatedPersistenceEngine.forStore(await b.host.replica('actors/1')).persist(event(2)),
    ).rejects.toMatchObject({
      code: 'MF_NOT_PRIMARY',
    });
    await b.stop();
    await c.stop();
    // The grace period runs from when `a` notices each drop: wait for that (a loaded box may
    // take a while), then outlast the 100 ms grace.
    await waitFor(() => ra.progress().every((p) => !p.connected), 'a to see both secondaries gone', 20_000);
    await new Promise((r) => setTimeout(r, 200));
    await expect(engine.persist(event(2))).rejects.toMatchObject({ code: 'MF_QUORUM_LOSS' });
    expect((await engine.events('k', 0)).map((e) => e.sequenceNumber)).toEqual([1]);
    await expect(engine.persist({ ...event(3), key: 'a/b' })).rejects.toThrow(
      /persistence key "a\/b" is invalid/,
    );
  });
});
