import { describe, expect, it } from 'vitest';
import { primaryConflicts } from '../../cluster/node/role-log.js';
import { stableClusterPerFile } from './support/stable-cluster-per-file.js';
import { keysPerPartition, runIncrements } from './support/workload.js';

describe('graceful drain', () => {
  const started = stableClusterPerFile();

  it('SIGTERM hands every primary over before the node exits, with no failed client call', {
    timeout: 240_000,
  }, async () => {
    const cluster = started();
    const proxy = await cluster.proxy();
    const keys = keysPerPartition(proxy, 2, 'drain');
    const victim = 'n2';
    const before = await cluster.configs();
    expect([...before.values()].some((c) => c.primary === victim)).toBe(true);

    let exit: Promise<number | null> | null = null;
    let primariesAtExit = -1;
    const history = await runIncrements(proxy, keys, 3000, 16, 'drain', (acked) => {
      if (acked === 500 && !exit) {
        exit = cluster.signal(victim, 'SIGTERM').then(async (code) => {
          primariesAtExit = [...(await cluster.configs()).values()].filter(
            (c) => c.primary === victim,
          ).length;
          return code;
        });
      }
    });
    expect(exit).not.toBeNull();
    expect(await exit).toBe(0);
    expect(primariesAtExit).toBe(0);
    expect(history.unknown).toEqual([]);
    expect(history.okCount).toBe(3000);
    for (const key of keys) {
      const got = await proxy.call<{ value: number }>('counter', key, 'get', null);
      expect(got.value).toBe(history.acked.get(key) ?? 0);
    }
    expect(cluster.log(victim)).toContain('draining before exit');
    expect(primaryConflicts(cluster.roleHistory())).toEqual([]);
  });
});
