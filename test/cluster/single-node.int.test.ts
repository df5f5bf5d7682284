import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from './support/test-cluster.js';

/**
 * A one-node dev cluster (MF_INITIAL_CLUSTER_SIZE=1, as `bench/actors.bench.ts` runs) keeps
 * working: the minimum replica-set size is capped by the declared cluster size.
 */
describe('a one-node dev cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 1, env: { MF_INITIAL_CLUSTER_SIZE: '1' } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('places every partition on its one node and takes writes', { timeout: 120_000 }, async () => {
    const configs = await cluster.waitStable(1);
    for (const c of configs.values())
      expect(c).toMatchObject({ status: 'ok', primary: 'n1', replicas: ['n1'] });
    const proxy = await cluster.proxy();
    const reply = await proxy.call<{ value: number }>(
      'counter',
      'dev',
      'increment',
      { by: 5 },
      { idempotencyKey: 'dev-1' },
    );
    expect(reply.value).toBe(5);
  });

  it('a call whose caller passes the argument JSON it built (payloadJson) sends that JSON', {
    timeout: 120_000,
  }, async () => {
    await cluster.waitStable(1);
    const proxy = await cluster.proxy();
    const json = JSON.stringify({ by: 7 });
    // `arg` is not read when the JSON is given: what the node gets is the JSON.
    const reply = await proxy.call<{ value: number }>('counter', 'json', 'increment', null, {
      idempotencyKey: 'json-1',
      payloadJson: json,
    });
    expect(reply.value).toBe(7);
    const again = await proxy.call<{ value: number }>(
      'counter',
      'json',
      'increment',
      { by: 7 },
      {
        idempotencyKey: 'json-1',
      },
    );
    expect(again.value).toBe(7);
  });
});
