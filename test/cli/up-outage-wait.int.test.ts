import { describe, expect, it } from 'vitest';
import { OutageWaiter } from '../../actors/demo/outage-wait.js';
import { waitForQuorumLoss } from '../cluster/support/quorum-loss.js';
import { stableClusterPerFile } from '../cluster/support/stable-cluster-per-file.js';

/**
 * `up`'s outage waiter (actors/demo/outage-wait.ts) against a real three-node cluster (real
 * etcd, real nodes) with two nodes SIGKILLed: a partition in quorum loss. The wait is bounded
 * (MF_CLUSTER_UNAVAILABLE past it), and a call that is still waiting when a node returns
 * completes, applied exactly once (its retries carry the same idempotency key).
 */
describe("up's demo day waiting out a cluster outage", () => {
  const started = stableClusterPerFile();

  it('in quorum loss the wait is bounded: MF_CLUSTER_UNAVAILABLE naming the last error, after retrying', {
    timeout: 300_000,
  }, async () => {
    const cluster = started();
    const proxy = await cluster.proxy({ defaultDeadlineMs: 5_000 });
    await proxy.call('counter', 'ow-1', 'increment', { by: 1 }, { idempotencyKey: 'ow-1-first' });
    await Promise.all([cluster.signal('n2', 'SIGKILL'), cluster.signal('n3', 'SIGKILL')]);
    await waitForQuorumLoss(cluster, 'every partition to report quorum loss', 120_000, ['n2', 'n3']);
    const lines: string[] = [];
    const waiter = new OutageWaiter({ maxWaitMs: 3_000, say: (l) => lines.push(l), retryDelayMs: 200 });
    const err = await waiter
      .run('counter/ow-1', () =>
        proxy.call('counter', 'ow-1', 'increment', { by: 10 }, { idempotencyKey: 'ow-1-bounded' }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MF_CLUSTER_UNAVAILABLE', details: { lastCode: 'MF_QUORUM_LOSS' } });
    expect(waiter.waits.retries).toBeGreaterThan(1);
    expect(lines.some((l) => l.includes('waiting for the cluster') && l.includes('MF_QUORUM_LOSS'))).toBe(
      true,
    );
  });

  it('a call waiting when a node returns completes and is applied exactly once; progress was shown', {
    timeout: 300_000,
  }, async () => {
    const cluster = started();
    const proxy = await cluster.proxy({ defaultDeadlineMs: 5_000 });
    const lines: string[] = [];
    const waiter = new OutageWaiter({ maxWaitMs: 240_000, say: (l) => lines.push(l), retryDelayMs: 200 });
    let settled = false;
    const waiting = waiter
      .run('counter/ow-1', () =>
        proxy.call<{ value: number }>(
          'counter',
          'ow-1',
          'increment',
          { by: 5 },
          {
            idempotencyKey: 'ow-1-waited',
          },
        ),
      )
      .finally(() => {
        settled = true;
      });
    // Still in quorum loss (from the test before): the call waits rather than failing.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(settled).toBe(false);
    expect(lines.some((l) => l.startsWith('waiting for the cluster'))).toBe(true);

    await cluster.startNode('n2');
    await cluster.waitStable(2, 180_000);
    expect((await waiting).value).toBe(6);
    expect(lines.at(-1)).toMatch(/^cluster answering again after [\d.]+ s; the day carries on$/);
    // Applied once although it was sent many times; the bounded call before it was never applied.
    expect(await proxy.call('counter', 'ow-1', 'get', null)).toEqual({ value: 6, increments: 2 });
  });
});
