import { afterEach, describe, expect, it } from 'vitest';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import { waitFor } from '../support/wait.js';
import { addressBook, config, dec, enc, removeNodeData, startNode, type TestNode } from './support.js';

/**
 * A commit LSN with no entries to carry it waits `commitNoticeDelayMs` (ReplicatorOptions)
 * before it goes to the secondaries alone: writes do not wait for it (they reply after the
 * quorum commit on the primary), and the secondaries still learn every commit and apply it.
 */
const put = (key: string, value: string) => encodeStateOp({ kind: 'put', key, value: enc(value) });
const noticeDelayMs = 2_000;

let nodes: TestNode[] = [];
afterEach(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  nodes = [];
});

async function setUp(partition: string) {
  const options = { writeTimeoutMs: 10_000, commitNoticeDelayMs: noticeDelayMs };
  nodes = [await startNode('a', options), await startNode('b', options), await startNode('c', options)];
  const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
  const cfg = config(partition, 1, 'a', ['a', 'b', 'c']);
  const secondaries = [await b.host.replica(partition), await c.host.replica(partition)];
  for (const s of secondaries) await s.becomeSecondary(cfg);
  const primary = await a.host.replica(partition);
  await primary.becomePrimary(cfg, addressBook(nodes));
  return { primary, secondaries };
}

describe('commit notices to secondaries', () => {
  it('replies after the quorum commit without waiting for the notice, which then reaches both secondaries', async () => {
    const { primary, secondaries } = await setUp('n/0');
    await primary.replicate([put('warm', '0')]);
    await waitFor(() => secondaries.every((s) => s.status().appliedLsn >= 2), 'warm-up applied', 15_000);
    const started = performance.now();
    const lsn = await primary.replicate([put('k', 'v')]);
    const replyMs = performance.now() - started;
    // Persisted by both secondaries (that is what committed it), but no entries message came
    // after the commit: they learn it only from the delayed notice.
    if (replyMs < noticeDelayMs / 2) {
      for (const s of secondaries) expect(s.status().committedLsn).toBeLessThan(lsn);
    }
    await waitFor(() => secondaries.every((s) => s.status().appliedLsn >= lsn), 'secondaries apply', 15_000);
    for (const s of secondaries) expect(dec(await s.store.get('k'))).toBe('v');
  });

  it('under a stream of writes every write commits and the secondaries converge to the same state', async () => {
    const { primary, secondaries } = await setUp('n/1');
    let next = 0;
    const lsns = await Promise.all(
      Array.from({ length: 32 }, async () => {
        let last = 0;
        while (next < 400) {
          const i = next++;
          last = await primary.replicate([put(`k${i}`, `v${i}`)]);
        }
        return last;
      }),
    );
    const lastLsn = Math.max(...lsns);
    await waitFor(
      () => secondaries.every((s) => s.status().appliedLsn >= lastLsn),
      'secondaries apply',
      15_000,
    );
    for (const s of secondaries) {
      for (const i of [0, 199, 399]) expect(dec(await s.store.get(`k${i}`))).toBe(`v${i}`);
    }
  });
});
