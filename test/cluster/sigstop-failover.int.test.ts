import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { callUnary, channelOptions, NodeService } from '../../cluster/node/grpc-contracts.js';
import { primaryConflicts } from '../../cluster/node/role-log.js';
import { waitFor } from '../support/wait.js';
import { stableClusterPerFile } from './support/stable-cluster-per-file.js';
import { keysWithPrimary } from './support/workload.js';

describe('a primary frozen with SIGSTOP past its lease', () => {
  const started = stableClusterPerFile();

  it('is replaced; after SIGCONT its pending writes fail with NOT_PRIMARY and are never visible; one primary per partition and epoch', {
    timeout: 240_000,
  }, async () => {
    const cluster = started();
    const proxy = await cluster.proxy();
    const configs = await cluster.configs();
    const [key] = keysWithPrimary(proxy, configs, 'n1', 'frozen') as [string];
    const partition = proxy.partitionOf('counter', key);
    const oldEpoch = configs.get(partition)!.epoch;
    await proxy.call('counter', key, 'increment', { by: 1 }, { idempotencyKey: 'before-1' });

    // A client talking straight to n1 (as a stale router would), connection already open.
    const direct = new NodeService(
      `127.0.0.1:${cluster.nodes.get('n1')!.port}`,
      grpc.credentials.createInsecure(),
      channelOptions,
    );
    const call = (idem: string) =>
      callUnary<{ result: Buffer }>(
        direct,
        'CallActor',
        {
          service: 'counter',
          key,
          method: 'increment',
          payload: Buffer.from('{"by":1000}'),
          idempotencyKey: idem,
          partition,
        },
        90_000,
      );
    await call('direct-warmup-get').catch(() => undefined);
    const warm = await callUnary<{ result: Buffer }>(
      direct,
      'CallActor',
      {
        service: 'counter',
        key,
        method: 'get',
        payload: Buffer.from('null'),
        idempotencyKey: 'g',
        partition,
      },
      10_000,
    );
    const valueBefore = (JSON.parse(warm.result.toString()) as { value: number }).value;

    await cluster.signal('n1', 'SIGSTOP');
    const pending = [1, 2, 3].map((i) =>
      call(`frozen-write-${i}`).then(
        () => 'ok',
        (err: { code?: string }) => err.code ?? 'unknown',
      ),
    );
    try {
      const replaced = await waitFor(
        async () => {
          const c = (await cluster.configs()).get(partition);
          return c && c.status === 'ok' && c.primary !== 'n1' && c.epoch > oldEpoch ? c : null;
        },
        `a new primary for ${partition}`,
        60_000,
        100,
      );
      expect(replaced.primary).not.toBe('n1');
      // The successor takes writes while n1 is still frozen.
      const during = await proxy.call<{ value: number }>(
        'counter',
        key,
        'increment',
        { by: 1 },
        { idempotencyKey: 'during-1' },
      );
      expect(during.value).toBe(valueBefore + 1);
      await new Promise((r) => setTimeout(r, cluster.leaseTtlMs));
    } finally {
      await cluster.signal('n1', 'SIGCONT');
    }
    const outcomes = await Promise.all(pending);
    expect(outcomes, JSON.stringify(outcomes)).toEqual([
      'MF_NOT_PRIMARY',
      'MF_NOT_PRIMARY',
      'MF_NOT_PRIMARY',
    ]);
    direct.close();

    // n1 rejoins; the frozen writes never become visible (by 1000 each would show).
    await cluster.waitStable(3, 120_000);
    const after = await proxy.call<{ value: number; increments: number }>('counter', key, 'get', null);
    expect(after.value).toBe(valueBefore + 1);
    expect(primaryConflicts(cluster.roleHistory())).toEqual([]);
    expect(
      cluster.roleHistory().some((r) => r.node === 'n1' && r.role === 'primary' && r.partition === partition),
    ).toBe(true);
  });
});
