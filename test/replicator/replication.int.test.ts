import { afterEach, describe, expect, it } from 'vitest';
import type { ReplicatorOptions } from '../../cluster/replicator/options.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import { waitFor } from '../support/wait.js';
import { addressBook, config, dec, enc, removeNodeData, startNode, type TestNode } from './support.js';

const put = (key: string, value: string) => encodeStateOp({ kind: 'put', key, value: enc(value) });

let nodes: TestNode[] = [];
afterEach(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  nodes = [];
});

async function threeNodes(extra: Partial<ReplicatorOptions> = {}) {
  const options = { writeTimeoutMs: 2_000, ...extra };
  nodes = [await startNode('a', options), await startNode('b', options), await startNode('c', options)];
  return nodes as [TestNode, TestNode, TestNode];
}

async function setUp(partition: string, epoch = 1, options: Partial<ReplicatorOptions> = {}) {
  const [a, b, c] = await threeNodes(options);
  const cfg = config(partition, epoch, 'a', ['a', 'b', 'c']);
  await (await b.host.replica(partition)).becomeSecondary(cfg);
  await (await c.host.replica(partition)).becomeSecondary(cfg);
  const primary = await a.host.replica(partition);
  await primary.becomePrimary(cfg, addressBook(nodes));
  return { a, b, c, primary };
}

describe('replication over gRPC between three replica hosts', () => {
  it('commits a write once a majority persisted it and applies it on every replica', async () => {
    const { b, c, primary } = await setUp('t/0');
    const lsn = await primary.replicate([put('k1', 'v1'), put('k2', 'v2')]);
    expect(lsn).toBe(2); // LSN 1 is the epoch barrier
    expect(dec(await primary.get('k1'))).toBe('v1');
    const sb = await b.host.replica('t/0');
    const sc = await c.host.replica('t/0');
    await waitFor(() => sb.status().appliedLsn >= 2 && sc.status().appliedLsn >= 2, 'secondaries apply');
    expect(dec(await sb.store.get('k2'))).toBe('v2');
    expect(sb.status()).toMatchObject({
      role: 'active-secondary',
      epoch: 1,
      lastPersistedLsn: 2,
      lastPersistedEpoch: 1,
    });
  });

  it('keeps committing with one secondary killed (2 of 3), compacts the log only below what every replica persisted, and the returning secondary catches up from the log', async () => {
    const { c, primary } = await setUp('t/1', 1, { compactEveryEntries: 5 });
    await primary.replicate([put('before', '1')]);
    await c.stop();
    const cPersisted = primary.progress().find((p) => p.node === 'c')!.persistedLsn;
    for (let i = 0; i < 20; i++) await primary.replicate([put(`k${i}`, `${i}`)]);
    expect(dec(await primary.get('k19'))).toBe('19');
    expect(primary.log.logStartLsn).toBeLessThanOrEqual(cPersisted + 1); // c still needs the rest
    await c.restart();
    const rc = await c.host.replica('t/1');
    await waitFor(
      () => rc.status().appliedLsn >= primary.status().committedLsn,
      'restarted secondary catches up',
      15_000,
    );
    expect(dec(await rc.store.get('k19'))).toBe('19');
  });

  it('does not commit without a majority: with both secondaries gone writes fail with a clear error and nothing committed is lost', async () => {
    const { b, c, primary } = await setUp('t/2');
    await primary.replicate([put('safe', 'yes')]);
    await b.stop();
    await c.stop();
    const pending = primary.replicate([put('unsafe', 'no')]);
    const outcome = await pending.then(
      () => 'committed',
      (err: { code: string }) => err.code,
    );
    expect(['MF_NO_WRITE_QUORUM', 'MF_QUORUM_LOSS']).toContain(outcome);
    // after the grace period the primary refuses at once with quorum loss
    await waitFor(
      () =>
        primary.replicate([put('x', 'y')]).then(
          () => false,
          (err: { code: string }) => err.code === 'MF_QUORUM_LOSS',
        ),
      'fast quorum-loss refusal',
      10_000,
    );
    await expect(primary.replicate([put('x', 'y')])).rejects.toThrow(/lost its write quorum/);
    expect(dec(await primary.get('safe'))).toBe('yes');
    expect(await primary.get('unsafe')).toBeUndefined();
    // a secondary returns: quorum is back, writes resume
    await b.restart();
    await waitFor(
      () =>
        primary.replicate([put('after', 'ok')]).then(
          () => true,
          () => false,
        ),
      'writes resume after a replica returns',
      15_000,
    );
    expect(dec(await primary.get('after'))).toBe('ok');
  });
});
