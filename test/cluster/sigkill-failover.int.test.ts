import { describe, expect, it } from 'vitest';
import { collectStatus } from '../../cluster/cli/status-command.js';
import { primaryConflicts } from '../../cluster/node/role-log.js';
import { waitFor } from '../support/wait.js';
import { stableClusterPerFile } from './support/stable-cluster-per-file.js';
import { keysPerPartition, runIncrements } from './support/workload.js';

describe('SIGKILL of the node with the most primaries during 10,000 increments', () => {
  const started = stableClusterPerFile();

  it('keeps every acknowledged increment exactly once, resumes writes, and the restarted node rebuilds and rejoins', {
    timeout: 400_000,
  }, async () => {
    const cluster = started();
    const proxy = await cluster.proxy();
    const keys = keysPerPartition(proxy, 4, 'kill');
    const before = await cluster.configs();
    const primaries = new Map<string, number>();
    for (const c of before.values()) primaries.set(c.primary!, (primaries.get(c.primary!) ?? 0) + 1);
    const victim = [...primaries].sort((a, b) => b[1] - a[1])[0]![0];

    let killed: Promise<unknown> | null = null;
    let ackedAfterKill = 0;
    const history = await runIncrements(proxy, keys, 10_000, 48, 'kill', (acked) => {
      if (acked === 2000 && !killed) killed = cluster.signal(victim, 'SIGKILL');
      if (killed) ackedAfterKill++;
    });
    await killed;
    expect(killed).not.toBeNull();
    // Writes resumed: most of the run happened after the kill, on the successors.
    expect(ackedAfterKill).toBeGreaterThan(5000);
    const afterKill = await cluster.configs();
    for (const c of afterKill.values()) expect(c.primary).not.toBe(victim);

    await cluster.startNode(victim);
    const stable = await cluster.waitStable(3, 120_000);
    for (const c of stable.values()) expect(c.replicas).toContain(victim);

    // Calls with an unknown outcome are retried with their idempotency key: each applies once.
    for (const u of history.unknown) {
      await proxy.call('counter', u.key, 'increment', { by: 1 }, { idempotencyKey: u.idem });
      history.acked.set(u.key, (history.acked.get(u.key) ?? 0) + 1);
    }
    // A client that missed its acknowledgements retries them, on the new primaries now:
    // the dedup table survived the failover with the state, so nothing applies twice.
    for (const c of history.ackedCalls.slice(0, 400)) {
      await proxy.call('counter', c.key, 'increment', { by: 1 }, { idempotencyKey: c.idem });
    }
    let total = 0;
    for (const key of keys) {
      const got = await proxy.call<{ value: number; increments: number }>('counter', key, 'get', null);
      expect(got.value, `counter ${key}`).toBe(history.acked.get(key) ?? 0);
      expect(got.increments).toBe(got.value);
      total += got.value;
    }
    expect(total).toBe(10_000);

    // The restarted node holds every partition's committed operations again.
    await waitFor(
      async () => {
        const report = await collectStatus([cluster.etcd.endpoint], 'meterfabric');
        return report.partitions.every((p) => {
          const mine = p.progress[victim];
          const primary = p.primary ? p.progress[p.primary] : undefined;
          return mine && primary && mine.role !== 'none' && mine.lastPersistedLsn >= primary.committedLsn;
        });
      },
      `${victim} to hold every committed operation`,
      60_000,
      500,
    );
    // Primaries even out again: the restarted node takes its share back.
    await waitFor(
      async () => {
        const counts = new Map<string, number>();
        for (const c of (await cluster.configs()).values()) {
          if (c.primary && c.partition.startsWith('counter/'))
            counts.set(c.primary, (counts.get(c.primary) ?? 0) + 1);
        }
        return (counts.get(victim) ?? 0) >= 10 && Math.max(...counts.values()) <= Math.ceil(32 / 3) + 1;
      },
      'primaries to be rebalanced onto the restarted node',
      90_000,
      500,
    );
    expect(primaryConflicts(cluster.roleHistory())).toEqual([]);
  });
});
