import { afterEach, describe, expect, it } from 'vitest';
import type { Replica } from '../../cluster/replicator/replica.js';
import { ReliableStateManager } from '../../storage/reliable-state.js';
import { MAX_TRANSACTION_OPS } from '../../storage/transaction.js';
import { addressBook, config, removeNodeData, startNode, type TestNode } from '../replicator/support.js';
import { waitFor } from '../support/wait.js';

let nodes: TestNode[] = [];
afterEach(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  nodes = [];
});

async function partition(name: string): Promise<{ primary: Replica; a: TestNode; b: TestNode; c: TestNode }> {
  nodes = [await startNode('a'), await startNode('b'), await startNode('c')];
  const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
  const cfg = config(name, 1, 'a', ['a', 'b', 'c']);
  await (await b.host.replica(name)).becomeSecondary(cfg);
  await (await c.host.replica(name)).becomeSecondary(cfg);
  const primary = await a.host.replica(name);
  await primary.becomePrimary(cfg, addressBook(nodes));
  return { primary, a, b, c };
}

type Job = { id: string; kind: string };

describe('reliable collections over a replicated partition', () => {
  it('a transaction across a dictionary, a queue and a stream is one replicated operation applied on every replica', async () => {
    const { primary, b } = await partition('c/0');
    const state = new ReliableStateManager(primary);
    const tx = state.transaction();
    await state.queue<Job>('jobs').enqueue(tx, { id: 'j1', kind: 'read' });
    state.dictionary<Job>('inflight').set(tx, 'j1', { id: 'j1', kind: 'read' });
    await state.stream<string>('events').append(tx, 'job j1 queued');
    const before = primary.status().lastPersistedLsn;
    const lsn = await tx.commit();
    expect(lsn).toBe(before + 1); // one log entry for the whole transaction
    expect(await state.dictionary<Job>('inflight').get('j1')).toEqual({ id: 'j1', kind: 'read' });
    expect(await state.queue<Job>('jobs').items()).toEqual([{ id: 'j1', kind: 'read' }]);
    // the secondary applied all three at that LSN
    const secondary = await b.host.replica('c/0');
    await waitFor(() => secondary.status().appliedLsn >= lsn, 'secondary applies the transaction');
    const keys = (await secondary.store.scan({})).map(([k]) => k.split('/')[0]);
    expect(keys.sort()).toEqual(['D', 'Q', 'T']);
  });

  it('an aborted transaction changes nothing; a bad key, a closed or an oversized transaction is refused with a clear error before anything is written', async () => {
    const { primary } = await partition('c/1');
    const state = new ReliableStateManager(primary);
    const dict = state.dictionary<number>('counts');
    await state.run(async (tx) => dict.set(tx, 'x', 1));
    await expect(
      state.run(async (tx) => {
        dict.set(tx, 'x', 2);
        await state.queue<number>('q').enqueue(tx, 9);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    const tx = state.transaction();
    expect(() => dict.set(tx, '', 3)).toThrow(/key must be 1\.\.512 characters/);
    expect(() => state.dictionary('bad name!')).toThrow(/dictionary name "bad name!" is invalid/);
    tx.abort();
    expect(() => dict.set(tx, 'x', 4)).toThrow(expect.objectContaining({ code: 'MF_TX_CLOSED' }));
    const big = state.transaction();
    for (let i = 0; i < MAX_TRANSACTION_OPS; i++) big.del(`D/counts/k${i}`);
    expect(() => dict.set(big, 'x', 5)).toThrow(expect.objectContaining({ code: 'MF_TX_TOO_LARGE' }));
    big.abort();
    expect(await dict.get('x')).toBe(1);
    expect(await state.queue<number>('q').count()).toBe(0);
  });

  it('queue: FIFO, a dequeue in an aborted transaction puts the item back, concurrent dequeuers never get the same item', async () => {
    const { primary } = await partition('c/2');
    const state = new ReliableStateManager(primary);
    const q = state.queue<number>('work');
    for (let i = 1; i <= 5; i++) await state.run(async (tx) => q.enqueue(tx, i));
    const t1 = state.transaction();
    const t2 = state.transaction();
    const [x, y] = await Promise.all([q.dequeue(t1), q.dequeue(t2)]);
    expect(new Set([x, y])).toEqual(new Set([1, 2]));
    t1.abort();
    await t2.commit();
    const got: number[] = [];
    for (;;) {
      const v = await state.run(async (tx) => q.dequeue(tx));
      if (v === undefined) break;
      got.push(v);
    }
    expect(got).toEqual([x === 1 ? 1 : 2, 3, 4, 5].sort());
  });

  it('stream: append-only reads after a consumer checkpoint; the checkpoint commits with the consumer work', async () => {
    const { primary } = await partition('c/3');
    const state = new ReliableStateManager(primary);
    const s = state.stream<string>('readings');
    for (const r of ['r1', 'r2', 'r3']) await state.run(async (tx) => s.append(tx, r));
    const batch = await s.readFor('csv');
    expect(batch.map((r) => r.value)).toEqual(['r1', 'r2', 'r3']);
    await state.run(async (tx) => {
      state.dictionary<number>('written').set(tx, 'csv', 2);
      await s.advance(tx, 'csv', batch[1]!.seq);
    });
    expect((await s.readFor('csv')).map((r) => r.value)).toEqual(['r3']);
    expect((await s.readFor('cim')).length).toBe(3); // consumers are independent
    await state.run(async (tx) => s.advance(tx, 'csv', 1)); // never backwards
    expect(await s.checkpoint('csv')).toBe(batch[1]!.seq);
  });

  it('after failover the new primary serves the same collections and continues the sequence without overwriting', async () => {
    const { primary, a, b, c } = await partition('c/4');
    const state = new ReliableStateManager(primary);
    const q = state.queue<string>('q');
    await state.run(async (tx) => q.enqueue(tx, 'first'));
    await state.run(async (tx) => state.dictionary<string>('d').set(tx, 'k', 'v'));
    await a.stop();
    const rb = await b.host.replica('c/4');
    const rc = await c.host.replica('c/4');
    const fb = await rb.fence(2);
    const fc = await rc.fence(2);
    const cfg = config('c/4', 2, 'b', ['b', 'c', 'a'], Math.max(fb.lastPersistedLsn, fc.lastPersistedLsn));
    await rc.becomeSecondary(cfg);
    await rb.becomePrimary(cfg, addressBook(nodes));
    const state2 = new ReliableStateManager(rb);
    await state2.run(async (tx) => state2.queue<string>('q').enqueue(tx, 'second'));
    expect(await state2.queue<string>('q').items()).toEqual(['first', 'second']);
    expect(await state2.dictionary<string>('d').get('k')).toBe('v');
    await expect(state.dictionary<string>('d').get('k')).rejects.toMatchObject({ code: 'MF_NOT_PRIMARY' });
  });

  it('dictionary entries list committed keys in order, by prefix, including non-BMP characters', async () => {
    const { primary } = await partition('c/5');
    const state = new ReliableStateManager(primary);
    const meters = state.dictionary<number>('meters');
    await state.run(async (tx) => {
      meters.set(tx, 'm/2', 2);
      meters.set(tx, 'm/1', 1);
      meters.set(tx, 'm/\u{1F600}', 3);
      meters.set(tx, 'x/9', 9);
    });
    expect(await meters.entries({ keyPrefix: 'm/' })).toEqual([
      ['m/1', 1],
      ['m/2', 2],
      ['m/\u{1F600}', 3],
    ]);
    expect((await meters.entries()).length).toBe(4);
    expect(await state.dictionary<number>('other').entries()).toEqual([]);
  });
});
