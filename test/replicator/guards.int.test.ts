import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFaults } from '../../cluster/replicator/faults.js';
import { ReplicaControlClient } from '../../cluster/replicator/grpc/control-service.js';
import { registerReplicatorMetrics } from '../../cluster/replicator/metrics.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import { waitFor } from '../support/wait.js';
import { addressBook, config, enc, removeNodeData, startNode, type TestNode } from './support.js';

let nodes: TestNode[] = [];
const clients: ReplicaControlClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  nodes = [];
});

const entries = (from: number, count: number, epoch: number) =>
  Array.from({ length: count }, (_, i) => ({
    lsn: from + i,
    epoch,
    ops: [encodeStateOp({ kind: 'put', key: `k${from + i}`, value: enc('v') })],
  }));

describe('cluster token and test-only fault switches', () => {
  it('with a cluster token, control calls and replication streams without it are refused; with it they work', async () => {
    const token = 'secret-token-1';
    nodes = [
      await startNode('a', { writeTimeoutMs: 1_500 }, undefined, undefined, token),
      await startNode('b', {}, undefined, undefined, token),
      await startNode('intruder', { writeTimeoutMs: 1_500, quorumLossGraceMs: 60_000 }), // no token
    ];
    const [a, b, intruder] = nodes as [TestNode, TestNode, TestNode];
    const anonymous = new ReplicaControlClient(b.address);
    const member = new ReplicaControlClient(b.address, token);
    clients.push(anonymous, member);
    await expect(anonymous.fence('g/0', 5)).rejects.toMatchObject({ code: 'MF_UNAUTHENTICATED' });
    expect((await member.status('g/0')).epoch).toBe(0); // the anonymous fence changed nothing
    // a primary without the token cannot replicate to b
    const rogue = await intruder.host.replica('g/0');
    await rogue.becomePrimary(config('g/0', 1, 'intruder', ['intruder', 'b']), addressBook(nodes));
    await expect(rogue.replicate([encodeStateOp({ kind: 'del', key: 'x' })])).rejects.toMatchObject({
      code: 'MF_NO_WRITE_QUORUM',
    });
    // a member primary can
    const primary = await a.host.replica('g/1');
    await primary.becomePrimary(config('g/1', 1, 'a', ['a', 'b']), addressBook(nodes));
    expect(await primary.replicate([encodeStateOp({ kind: 'del', key: 'x' })])).toBe(2);
  });

  it('ack-before-persist (test-only) makes a secondary acknowledge before its disk write; off, it acknowledges after', async () => {
    nodes = [await startNode('honest'), await startNode('liar', {}, parseFaults('ack-before-persist'))];
    for (const node of nodes) {
      const replica = await node.host.replica('g/2');
      const { token } = await replica.secondary.accept(1, 'p', () => {});
      const acked = await replica.secondary.receive(token, {
        epoch: 1,
        entries: entries(1, 50, 1),
        commitLsn: 0,
        compactBelowLsn: 0,
      });
      const persistedAtAck = replica.log.persistedLsn;
      expect(acked).toBe(50);
      if (node.id === 'honest') expect(persistedAtAck).toBe(50);
      else expect(persistedAtAck).toBeLessThan(50);
    }
  });

  it('skip-epoch-fencing (test-only) lets a replica accept an older epoch; off, it is refused with MF_STALE_EPOCH', async () => {
    nodes = [await startNode('strict'), await startNode('lax', {}, parseFaults('skip-epoch-fencing'))];
    const [strict, lax] = nodes as [TestNode, TestNode];
    for (const node of [strict, lax]) await (await node.host.replica('g/3')).fence(5);
    await expect(
      (await strict.host.replica('g/3')).secondary.accept(4, 'old', () => {}),
    ).rejects.toMatchObject({
      code: 'MF_STALE_EPOCH',
    });
    await expect((await lax.host.replica('g/3')).secondary.accept(4, 'old', () => {})).resolves.toBeDefined();
  });

  it('a new primary without a write quorum refuses reads with a clear error instead of hanging', async () => {
    nodes = [await startNode('a', { writeTimeoutMs: 500 })];
    const [a] = nodes as [TestNode];
    const lonely = await a.host.replica('g/4');
    await lonely.becomePrimary(config('g/4', 1, 'a', ['a', 'b', 'c']), () => undefined);
    await expect(lonely.get('k')).rejects.toMatchObject({ code: 'MF_NO_WRITE_QUORUM' });
    const pending = lonely.get('k');
    await lonely.demote();
    await expect(pending).rejects.toMatchObject({ code: 'MF_NOT_PRIMARY' });
  });

  it('bounds uncommitted bytes (MF_REPLICATION_QUEUE_FULL) and still replicates everything with a small message bound', async () => {
    const options = {
      maxQueueBytes: 2_000,
      maxMessageBytes: 1_000,
      quorumLossGraceMs: 60_000,
      writeTimeoutMs: 2_000,
    };
    nodes = [await startNode('a', options), await startNode('b', options), await startNode('c', options)];
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const primary = await a.host.replica('g/5');
    await primary.becomePrimary(config('g/5', 1, 'a', ['a', 'b', 'c']), addressBook(nodes));
    const big = (i: number) =>
      encodeStateOp({ kind: 'put', key: `big${i}`, value: new Uint8Array(400).fill(i) });
    // 2 000 bytes allowed in flight: of 12 concurrent 400-byte writes some are refused, the rest commit
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => primary.replicate([big(i)])),
    );
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason.code).toBe('MF_REPLICATION_QUEUE_FULL');
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThanOrEqual(4);
    // sequentially every write commits, each batch split into messages of at most ~1 000 bytes
    for (let i = 0; i < 10; i++) await primary.replicate([big(100 + i)]);
    const rb = await b.host.replica('g/5');
    await waitFor(() => rb.status().appliedLsn >= primary.status().committedLsn, 'b applies everything');
    expect((await rb.store.get('big109'))?.length).toBe(400);
    void c;
  });

  it('exports replica progress and group-commit counters as Prometheus gauges', async () => {
    nodes = [await startNode('a'), await startNode('b')];
    const [a] = nodes as [TestNode];
    const primary = await a.host.replica('g/6');
    await primary.becomePrimary(config('g/6', 3, 'a', ['a', 'b']), addressBook(nodes));
    await primary.replicate([encodeStateOp({ kind: 'del', key: 'x' })]);
    const registry = new Registry();
    registerReplicatorMetrics(registry, a.host);
    const text = await registry.metrics();
    expect(text).toContain('mf_replica_applied_lsn{partition="g/6"} 2');
    expect(text).toContain('mf_replica_epoch{partition="g/6"} 3');
    expect(text).toContain('mf_replication_secondaries_connected{partition="g/6"} 1');
    expect(text).toMatch(/mf_replica_log_fsyncs [1-9]/);
  });
});
