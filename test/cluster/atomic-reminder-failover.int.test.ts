import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import { stableClusterPerFile } from './support/stable-cluster-per-file.js';
import { keysWithPrimary } from './support/workload.js';

/**
 * A call whose decision has an event and a reminder, its primary SIGKILLed right after the
 * reply: the reminder was committed with the event (one replicated operation), so the new
 * primary loads it and it fires there, once.
 */
describe('a reminder committed with its event survives the death of the primary right after the reply', () => {
  const started = stableClusterPerFile();

  it('fires the reminder on the new primary', { timeout: 240_000 }, async () => {
    const cluster = started();
    const proxy = await cluster.proxy();
    const configs = await cluster.configs();
    const victim = configs.get('counter/0')!.primary!;
    const [key] = keysWithPrimary(proxy, configs, victim, 'atomic') as [string];
    const dueAtMs = Date.now() + 3000;
    const reply = await proxy.call('counter', key, 'incrementAndRemind', { name: 'next', dueAtMs, by: 10 });
    expect(reply).toEqual({ value: 10 });
    await cluster.signal(victim, 'SIGKILL');

    const fired = await waitFor(
      async () => {
        const got = await proxy.call<{ value: number; increments: number }>('counter', key, 'get', null);
        return got.value >= 20 ? got : null;
      },
      'the reminder to fire on the new primary',
      90_000,
      250,
    );
    expect(fired).toEqual({ value: 20, increments: 2 });
    const successor = (await cluster.configs()).get(proxy.partitionOf('counter', key))!.primary;
    expect(successor).not.toBe(victim);
    // Fired once: nothing more arrives.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await proxy.call('counter', key, 'get', null)).toEqual({ value: 20, increments: 2 });
  });
});
