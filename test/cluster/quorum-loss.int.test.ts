import { describe, expect, it } from 'vitest';
import {
  expectQuorumLossRefusal,
  expectWritesKeptAndServiceBack,
  keysWrittenBeforeOutage,
  statusDuringOutage,
  waitForQuorumLoss,
} from './support/quorum-loss.js';
import { stableClusterPerFile } from './support/stable-cluster-per-file.js';

describe('two of three nodes down', () => {
  const started = stableClusterPerFile();

  it('reports quorum loss and refuses writes with a clear error; nothing is lost; a returning node restores service', {
    timeout: 300_000,
  }, async () => {
    const cluster = started();
    const { proxy, keys } = await keysWrittenBeforeOutage(cluster, 2, 'ql');

    await Promise.all([cluster.signal('n2', 'SIGKILL'), cluster.signal('n3', 'SIGKILL')]);
    await waitForQuorumLoss(cluster, 'every partition to report quorum loss', 60_000, ['n2', 'n3']);
    await expectQuorumLossRefusal(proxy, keys[0]!, 'ql-refused');
    // A batch caller that asked to wait (waitOutQuorumLoss) is not refused: its call waits for
    // the replicas, within its deadline, and is answered once they return.
    const waiting = await cluster.proxy({ waitOutQuorumLoss: true });
    let waitedSettled = false;
    const waited = waiting
      .call<{ value: number }>(
        'counter',
        'ql-waited',
        'increment',
        { by: 7 },
        {
          idempotencyKey: 'ql-waited',
          deadlineMs: 240_000,
        },
      )
      .finally(() => {
        waitedSettled = true;
      });

    const report = statusDuringOutage(cluster);
    expect(report.health).toBe('ERROR');
    for (const p of report.partitions)
      expect(p).toMatchObject({ health: 'ERROR', reason: expect.stringContaining('quorum loss') });

    // Epochs do not churn while nothing can change: quorum loss is a state, not a retry loop.
    const epochs = new Map([...(await cluster.configs())].map(([p, c]) => [p, c.epoch]));
    await new Promise((r) => setTimeout(r, 3000));
    for (const [p, c] of await cluster.configs()) expect(c.epoch).toBe(epochs.get(p));
    expect(waitedSettled).toBe(false);

    await cluster.startNode('n2');
    await cluster.waitStable(2, 120_000);
    await expectWritesKeptAndServiceBack(proxy, keys, 'ql');
    expect((await waited).value).toBe(7);
    expect(await proxy.call('counter', 'ql-waited', 'get', null)).toEqual({ value: 7, increments: 1 });
  });
});
