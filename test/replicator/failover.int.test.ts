import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaControlClient } from '../../cluster/replicator/grpc/control-service.js';
import type { ReplicatorOptions } from '../../cluster/replicator/options.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import { waitFor } from '../support/wait.js';
import { addressBook, config, dec, enc, removeNodeData, startNode, type TestNode } from './support.js';

const put = (key: string, value: string) => encodeStateOp({ kind: 'put', key, value: enc(value) });
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: { code?: string }) => err.code ?? String(err),
  );

let nodes: TestNode[] = [];
const clients: ReplicaControlClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  nodes = [];
});

async function cluster(ids: string[], options: Partial<ReplicatorOptions> = {}) {
  nodes = [];
  for (const id of ids) nodes.push(await startNode(id, { writeTimeoutMs: 2_000, ...options }));
  return nodes;
}

async function establish(
  partition: string,
  epoch: number,
  primary: TestNode,
  secondaries: TestNode[],
  prev = 0,
) {
  const cfg = config(partition, epoch, primary.id, [primary.id, ...secondaries.map((s) => s.id)], prev);
  for (const s of secondaries) await (await s.host.replica(partition)).becomeSecondary(cfg);
  const replica = await primary.host.replica(partition);
  await replica.becomePrimary(cfg, addressBook(nodes));
  return replica;
}

describe('reconfiguration, fencing and building replicas', () => {
  it('fencing through ReplicaControl refuses the old primary: its pending write fails with MF_NOT_PRIMARY and is never visible', async () => {
    const [a, b, c] = (await cluster(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const old = await establish('f/0', 1, a, [b, c]);
    await old.replicate([put('committed', '1')]);
    const fb = new ReplicaControlClient(b.address);
    const fc = new ReplicaControlClient(c.address);
    clients.push(fb, fc);
    const fenceB = await fb.fence('f/0', 2);
    const fenceC = await fc.fence('f/0', 2);
    expect(fenceB).toMatchObject({ partition: 'f/0', fencedEpoch: 2, lastPersistedEpoch: 1 });
    expect(fenceB.lastPersistedLsn).toBeGreaterThanOrEqual(2);
    await expect(fb.fence('f/0', 1)).rejects.toMatchObject({ code: 'MF_STALE_EPOCH' });
    // the old primary still believes it is primary; its next write is refused by the fenced secondaries
    expect(await codeOf(old.replicate([put('zombie', 'x')]))).toBe('MF_NOT_PRIMARY');
    expect(old.status().role).toBe('none');
    // the new primary (highest progress of the fenced majority) never shows the zombie write
    const winner = fenceB.lastPersistedLsn >= fenceC.lastPersistedLsn ? b : c;
    const loser = winner === b ? c : b;
    const prev = Math.max(fenceB.lastPersistedLsn, fenceC.lastPersistedLsn);
    const next = await establish('f/0', 2, winner, [loser, a], prev);
    await next.replicate([put('after', '2')]);
    expect(dec(await next.get('committed'))).toBe('1');
    expect(await next.get('zombie')).toBeUndefined();
    const ra = await a.host.replica('f/0');
    await waitFor(
      () => ra.status().appliedLsn >= next.status().committedLsn,
      'old primary catches up as secondary',
    );
    expect(await ra.store.get('zombie')).toBeUndefined();
    expect(ra.status()).toMatchObject({ role: 'active-secondary', epoch: 2, lastPersistedEpoch: 2 });
  });

  it('truncates false progress of an older epoch when a new primary takes over', async () => {
    const [a, b, c] = (await cluster(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const first = await establish('f/1', 1, a, [b, c]);
    await first.replicate([put('k', 'committed')]);
    await b.stop();
    await c.stop();
    // a persists an operation no one else has: false progress
    expect(await codeOf(first.replicate([put('k', 'false-progress')]))).toBe('MF_NO_WRITE_QUORUM');
    const falseLsn = first.status().lastPersistedLsn;
    await a.stop();
    await b.restart();
    await c.restart();
    const fenceB = await (await b.host.replica('f/1')).fence(2);
    const fenceC = await (await c.host.replica('f/1')).fence(2);
    expect(fenceB.lastPersistedLsn).toBeLessThan(falseLsn);
    const cfg2 = config(
      'f/1',
      2,
      'b',
      ['b', 'c', 'a'],
      Math.max(fenceB.lastPersistedLsn, fenceC.lastPersistedLsn),
    );
    await (await c.host.replica('f/1')).becomeSecondary(cfg2);
    const next = await b.host.replica('f/1');
    await next.becomePrimary(cfg2, addressBook(nodes)); // a is down: b + c are the majority
    await next.replicate([put('k', 'epoch-2')]);
    await next.replicate([put('other', 'x')]);
    await a.restart();
    const ra = await a.host.replica('f/1');
    expect(ra.status().lastPersistedLsn).toBe(falseLsn); // reopened from disk with its false progress
    await ra.becomeSecondary(cfg2);
    await waitFor(
      () => ra.status().appliedLsn >= next.status().committedLsn,
      'a is truncated and catches up',
      15_000,
    );
    expect(dec(await ra.store.get('k'))).toBe('epoch-2');
    expect(dec(await next.get('k'))).toBe('epoch-2');
    const entries = await ra.store.readLog(falseLsn, falseLsn, 1);
    expect(entries[0]?.epoch).toBe(2); // the false-progress LSN now holds the new epoch's operation
  });

  it('builds a new replica and a far-behind one by copy, then counts them toward the quorum', async () => {
    const [a, b, c, d] = (await cluster(['a', 'b', 'c', 'd'], {
      maxLogEntries: 10,
      compactEveryEntries: 5,
    })) as [TestNode, TestNode, TestNode, TestNode];
    const primary = await establish('f/2', 1, a, [b, c]);
    await c.stop();
    for (let i = 0; i < 60; i++) await primary.replicate([put(`k${i}`, `v${i}`)]);
    await waitFor(async () => (await a.host.replica('f/2')).log.logStartLsn > 20, 'primary compacts its log');
    // d replaces c: it is built by copy first
    const cfg = config('f/2', 1, 'a', ['a', 'b', 'd'], 0, ['d']);
    await (await d.host.replica('f/2')).becomeSecondary(cfg);
    await primary.becomePrimary(cfg, addressBook(nodes));
    const rd = await d.host.replica('f/2');
    await waitFor(
      () => primary.progress().find((p) => p.node === 'd')?.caughtUp,
      'new replica d is built and caught up',
      15_000,
    );
    expect(dec(await rd.store.get('k59'))).toBe('v59');
    expect(dec(await rd.store.get('k0'))).toBe('v0');
    expect(rd.secondary.copiesCompleted).toBe(1);
    // promote d; with b gone, a + d form the quorum
    await primary.becomePrimary(config('f/2', 1, 'a', ['a', 'b', 'd']), addressBook(nodes));
    await b.stop();
    await primary.replicate([put('with-d', 'yes')]);
    await waitFor(() => rd.status().appliedLsn >= primary.status().committedLsn, 'd applies');
    expect(dec(await rd.store.get('with-d'))).toBe('yes');
    // c returns far behind the compacted log: rebuilt by copy too
    await c.restart();
    await primary.becomePrimary(config('f/2', 1, 'a', ['a', 'd', 'c']), addressBook(nodes));
    const rc = await c.host.replica('f/2');
    await waitFor(() => rc.status().appliedLsn >= primary.status().committedLsn, 'c rebuilt', 15_000);
    expect(dec(await rc.store.get('with-d'))).toBe('yes');
    expect(dec(await rc.store.get('k30'))).toBe('v30');
    expect(rc.secondary.copiesCompleted).toBe(1);
  });

  it('self-fences after the lease expires (MF_LEASE_EXPIRED) and bounds its queue (MF_REPLICATION_QUEUE_FULL)', async () => {
    const [a, b, c] = (await cluster(['a', 'b', 'c'], {
      maxQueueOps: 4,
      quorumLossGraceMs: 60_000,
      writeTimeoutMs: 1_000,
    })) as [TestNode, TestNode, TestNode];
    const primary = await establish('f/3', 1, a, [b, c]);
    await primary.replicate([put('k', '1')]);
    primary.setLeaseValidUntil(Date.now() - 1);
    expect(await codeOf(primary.replicate([put('k', '2')]))).toBe('MF_LEASE_EXPIRED');
    expect(await codeOf(primary.get('k'))).toBe('MF_LEASE_EXPIRED');
    primary.setLeaseValidUntil(Date.now() + 60_000);
    expect(dec(await primary.get('k'))).toBe('1');
    // a write pending when the lease runs out (e.g. the node was paused) fails with MF_NOT_PRIMARY
    await b.stop();
    await c.stop();
    const pending = primary.replicate([put('k', 'pending')]);
    primary.setLeaseValidUntil(Date.now() + 100);
    expect(await codeOf(pending)).toBe('MF_NOT_PRIMARY');
    primary.setLeaseValidUntil(Date.now() + 60_000);
    await b.restart();
    await c.restart();
    await waitFor(
      () =>
        primary.replicate([put('k', '3')]).then(
          () => true,
          () => false,
        ),
      'writes resume',
      15_000,
    );
    await b.stop();
    await c.stop();
    await primary.replicate([put('k', '4')]).catch(() => {}); // drain: nothing queued from before
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => codeOf(primary.replicate([put(`q${i}`, 'x')]))),
    );
    expect(outcomes.filter((o) => o === 'MF_REPLICATION_QUEUE_FULL').length).toBeGreaterThanOrEqual(4);
  });
});
