import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { replicationHandler } from '../../cluster/replicator/grpc/replication-service.js';
import { replicatorProto } from '../../cluster/replicator/grpc/wire.js';
import { ReplicaHost } from '../../cluster/replicator/host.js';
import type { Replica } from '../../cluster/replicator/replica.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import { silentLogger } from '../../core/logger.js';
import { consecutiveFreePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { addressBook, config, dec, enc, removeNodeData, startNode, type TestNode } from './support.js';

const put = (key: string, value: string) => encodeStateOp({ kind: 'put', key, value: enc(value) });
const mux = { writeTimeoutMs: 3_000, multiplexStreams: true };

let nodes: TestNode[] = [];
let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  for (const c of cleanups) await c().catch(() => {});
  nodes = [];
  cleanups = [];
});

/** Partitions with their primary on a and secondaries on b and c, a sending on ReplicateMany. */
async function setUp(partitions: string[]) {
  nodes = [await startNode('a', mux), await startNode('b', mux), await startNode('c', mux)];
  const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
  const primaries: Replica[] = [];
  for (const p of partitions) {
    const cfg = config(p, 1, 'a', ['a', 'b', 'c']);
    await (await b.host.replica(p)).becomeSecondary(cfg);
    await (await c.host.replica(p)).becomeSecondary(cfg);
    const primary = await a.host.replica(p);
    await primary.becomePrimary(cfg, addressBook(nodes));
    primaries.push(primary);
  }
  return { a, b, c, primaries };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: { code?: string }) => err.code ?? String(err),
  );

describe('ReplicateMany: every partition between two nodes on one call', () => {
  it("carries two partitions' concurrent writes in fewer gRPC messages than frames, each partition's writes applied in its own order on both secondaries", async () => {
    const { a, b, c, primaries } = await setUp(['m/0', 'm/1']);
    const [p0, p1] = primaries as [Replica, Replica];
    // both sessions streaming (each partition's hello came back) before the measured writes
    await Promise.all([p0.replicate([put('warm', '1')]), p1.replicate([put('warm', '1')])]);
    const counted = () => [...a.host.replicationLinks().values()].map((l) => [l.messagesSent, l.framesSent]);
    const before = counted();
    const lsns: Record<string, number[]> = { 'm/0': [], 'm/1': [] };
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        Promise.all([
          p0.replicate([put('last', `${i}`), put(`k${i}`, `a${i}`)]).then((lsn) => lsns['m/0']!.push(lsn)),
          p1.replicate([put('last', `${i}`), put(`k${i}`, `b${i}`)]).then((lsn) => lsns['m/1']!.push(lsn)),
        ]),
      ),
    );
    for (const [partition, primary] of [
      ['m/0', p0],
      ['m/1', p1],
    ] as const) {
      // replicate() calls issued in order get increasing LSNs: the partition's order
      expect(lsns[partition]).toEqual([...lsns[partition]!].sort((x, y) => x - y));
      for (const node of [b, c]) {
        const replica = await node.host.replica(partition);
        await waitFor(
          () => replica.status().appliedLsn >= primary.log.lastLsn,
          `${node.id} applies ${partition}`,
        );
        // the last write of the partition wins on every replica: applied in LSN order
        expect(dec(await replica.store.get('last'))).toBe('39');
        expect(dec(await replica.store.get('k7'))).toBe(partition === 'm/0' ? 'a7' : 'b7');
      }
    }
    const links = [...a.host.replicationLinks().values()];
    expect(links).toHaveLength(2); // one per secondary node, not per partition
    const after = counted();
    for (const [i, link] of links.entries()) {
      expect(link.unsupported).toBe(false);
      const messages = after[i]![0]! - before[i]![0]!;
      const frames = after[i]![1]! - before[i]![1]!;
      expect(messages).toBeGreaterThan(0);
      // both partitions' writes were proposed in the same ticks: their frames share messages
      expect(messages).toBeLessThan(frames);
    }
  });

  it('refuses a stale-epoch channel alone: the other partition on the same link keeps committing', async () => {
    const { a, b, c, primaries } = await setUp(['s/0', 's/1']);
    const [stale, live] = primaries as [Replica, Replica];
    await stale.replicate([put('x', '1')]);
    const linksBefore = new Map(a.host.replicationLinks());
    // a failover manager fenced s/0 at epoch 2 on both secondaries; a does not know yet
    await b.host.fence('s/0', 2);
    await c.host.fence('s/0', 2);
    expect(await codeOf(stale.replicate([put('zombie', 'x')]))).toBe('MF_NOT_PRIMARY');
    expect(await live.replicate([put('after', 'ok')])).toBeGreaterThan(0);
    const rb = await b.host.replica('s/1');
    await waitFor(() => rb.status().appliedLsn >= live.log.lastLsn, 'b applies s/1');
    expect(dec(await rb.store.get('after'))).toBe('ok');
    expect(await (await b.host.replica('s/0')).store.get('zombie')).toBeUndefined();
    // the same links carried on (no reconnect of the shared call for one partition's refusal)
    for (const [address, link] of a.host.replicationLinks()) expect(linksBefore.get(address)).toBe(link);
  });

  it('loses nothing acknowledged when a secondary is killed with writes of both partitions in flight, and the killed one catches up', async () => {
    const { b, c, primaries } = await setUp(['k/0', 'k/1']);
    const acknowledged: Array<[Replica, string]> = [];
    let killed: Promise<void> | null = null;
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const primary = primaries[i % 2]!;
        return primary.replicate([put(`w${i}`, `${i}`)]).then(() => {
          acknowledged.push([primary, `w${i}`]);
          if (acknowledged.length === 10) killed = c.stop();
        });
      }),
    );
    await killed;
    expect(acknowledged).toHaveLength(60); // a and b are a majority
    await c.restart();
    for (const node of [b, c]) {
      for (const primary of primaries) {
        const replica = await node.host.replica(primary.partition);
        await waitFor(
          () => replica.status().appliedLsn >= primary.log.committedLsn,
          `${node.id} applies ${primary.partition}`,
        );
      }
      for (const [primary, key] of acknowledged) {
        expect(dec(await (await node.host.replica(primary.partition)).store.get(key))).toBe(key.slice(1));
      }
    }
  });

  it('falls back to a Replicate stream per partition for a peer that does not serve ReplicateMany (an older build)', async () => {
    nodes = [await startNode('a', mux), await startNode('b', mux)];
    // c: an older node, its server without ReplicateMany
    const [port] = [await consecutiveFreePorts(1)];
    const address = `127.0.0.1:${port}`;
    const old = await ReplicaHost.open({ nodeId: 'c', dataDir: mkdtempSync(join(tmpdir(), 'mf-repl-old-')) });
    const server = new grpc.Server();
    server.addService(replicatorProto().Replication.service, {
      Replicate: replicationHandler((p) => old.replica(p), silentLogger),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    cleanups.push(async () => {
      server.forceShutdown();
      await old.close();
    });
    const [a, b] = nodes as [TestNode, TestNode];
    const cfg = config('o/0', 1, 'a', ['a', 'b', 'c']);
    await (await b.host.replica('o/0')).becomeSecondary(cfg);
    await (await old.replica('o/0')).becomeSecondary(cfg);
    const primary = await a.host.replica('o/0');
    const book = addressBook(nodes);
    await primary.becomePrimary(cfg, (id) => (id === 'c' ? address : book(id)));
    await primary.replicate([put('k', 'v')]);
    const rc = await old.replica('o/0');
    await waitFor(() => rc.status().appliedLsn >= primary.log.lastLsn, 'the old node applies');
    expect(dec(await rc.store.get('k'))).toBe('v');
    expect(a.host.replicationLinks().get(address)?.unsupported).toBe(true);
    expect(a.host.replicationLinks().get(b.address)?.unsupported).toBe(false);
  });
});
