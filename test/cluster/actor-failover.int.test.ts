import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import { stableClusterPerFile } from './support/stable-cluster-per-file.js';
import { keysWithPrimary } from './support/workload.js';

describe('persistent nact actors across the death of their primary', () => {
  const started = stableClusterPerFile();

  it("keeps an actor's state and fires a reminder due during the failover exactly once", {
    timeout: 240_000,
  }, async () => {
    const cluster = started();
    const proxy = await cluster.proxy();
    const configs = await cluster.configs();
    const victim = configs.get('counter/0')!.primary!;
    const [stateKey, reminderKey] = keysWithPrimary(proxy, configs, victim, 'actor', 2) as [string, string];
    for (let i = 0; i < 7; i++)
      await proxy.call('counter', stateKey, 'increment', { by: 1 }, { idempotencyKey: `s-${i}` });

    const dueAtMs = Date.now() + 4000;
    await proxy.call('counter', reminderKey, 'remind', { name: 'wake', dueAtMs, by: 1 });
    // Kill the primary just before the reminder is due: it becomes due while the partition fails over.
    await new Promise((r) => setTimeout(r, Math.max(0, dueAtMs - Date.now() - 500)));
    await cluster.signal(victim, 'SIGKILL');

    const fired = await waitFor(
      async () => {
        const got = await proxy.call<{ value: number }>('counter', reminderKey, 'get', null);
        return got.value >= 1 ? got : null;
      },
      'the reminder to fire on the new primary',
      60_000,
      250,
    );
    expect(fired.value).toBe(1);
    const successor = (await cluster.configs()).get(proxy.partitionOf('counter', reminderKey))!.primary;
    expect(successor).not.toBe(victim);
    expect(await proxy.call('counter', stateKey, 'get', null)).toEqual({ value: 7, increments: 7 });

    // The restarted node replays nothing twice, and the reminder never fires again.
    await cluster.startNode(victim);
    await cluster.waitStable(3, 120_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await proxy.call('counter', reminderKey, 'get', null)).toEqual({ value: 1, increments: 1 });
    expect(await proxy.call('counter', stateKey, 'get', null)).toEqual({ value: 7, increments: 7 });
  });
});
