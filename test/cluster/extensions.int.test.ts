import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaControlClient } from '../../cluster/replicator/grpc/control-service.js';
import { packageRoot } from '../../core/paths.js';
import { waitFor } from '../support/wait.js';
import { TestCluster } from './support/test-cluster.js';

const token = 'test-cluster-token-0123456789';

describe('node extensions and actor sends, on a cluster that requires its token', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    const manifest = join(mkdtempSync(join(tmpdir(), 'mf-ext-')), 'extensions.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        services: [],
        extensions: [{ name: 'example', module: 'cluster/node/example-extension.js', export: 'start' }],
      }),
    );
    const runtime = join(packageRoot, 'cluster', 'config', 'runtime-services.json');
    cluster = await TestCluster.start({
      nodes: 3,
      env: { MF_MANIFESTS: `${runtime},${manifest}`, MF_CLUSTER_TOKEN: token },
    });
    await cluster.waitStable(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses calls without the cluster token (UNAUTHENTICATED), changing nothing', async () => {
    const anonymous = await cluster.proxy();
    await expect(anonymous.call('counter', 'tok-a', 'increment', { by: 1 })).rejects.toMatchObject({
      code: 'MF_UNAUTHENTICATED',
      message: expect.stringContaining('requires its token'),
    });
    const wrong = await cluster.proxy({ token: 'x'.repeat(token.length) });
    await expect(wrong.call('counter', 'tok-a', 'increment', { by: 1 })).rejects.toMatchObject({
      code: 'MF_UNAUTHENTICATED',
    });
    expect(await (await cluster.proxy({ token })).call('counter', 'tok-a', 'get', null)).toEqual({
      value: 0,
      increments: 0,
    });
  });

  it("guards the nodes' replica control service with the same token (fencing without it is refused)", async () => {
    const node = [...cluster.nodes.values()][0]!;
    const anonymous = new ReplicaControlClient(`127.0.0.1:${node.port}`);
    const partition = 'counter/0';
    await expect(anonymous.fence(partition, 1_000_000)).rejects.toMatchObject({
      message: expect.stringMatching(/token/i),
    });
    // The replicas still serve (and were not fenced): the token holder reads the status.
    const status = await new ReplicaControlClient(`127.0.0.1:${node.port}`, token).status(partition);
    expect(status.epoch).toBeLessThan(1_000_000);
  });

  it('starts every manifest extension in every node with a working ActorProxy', async () => {
    const proxy = await cluster.proxy({ token });
    for (const id of ['n1', 'n2', 'n3']) {
      expect(await proxy.call('counter', `extension-${id}`, 'get', null)).toEqual({
        value: 1,
        increments: 1,
      });
    }
  });

  it("delivers an actor's send after its change commits, once even when the call is retried", async () => {
    const proxy = await cluster.proxy({ token });
    // Always the same send (id f1); the idempotency key says whether it is a retry of the call.
    const forward = (idempotencyKey: string) =>
      proxy.call('counter', 'send-a', 'forward', { to: 'send-b', id: 'f1', by: 2 }, { idempotencyKey });
    expect(await forward('fw-1')).toEqual({ value: 2 });
    await waitFor(
      async () => (await proxy.call<{ value: number }>('counter', 'send-b', 'get', null)).value === 2,
      'the send to arrive',
      20_000,
      100,
    );
    // A retried call is answered from the dedup table and sends nothing again; a new call
    // with the same send id is delivered but deduplicated by the receiver.
    await forward('fw-1');
    await forward('fw-2');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await proxy.call('counter', 'send-a', 'get', null)).toEqual({ value: 4, increments: 2 });
    expect(await proxy.call('counter', 'send-b', 'get', null)).toEqual({ value: 2, increments: 1 });
  });
});
