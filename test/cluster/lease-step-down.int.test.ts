import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUnary, channelOptions, NodeService } from '../../cluster/node/grpc-contracts.js';
import { PeerClients } from '../../cluster/node/peers.js';
import { primaryConflicts } from '../../cluster/node/role-log.js';
import { waitFor } from '../support/wait.js';
import { TcpLink } from './support/tcp-link.js';
import { TestCluster } from './support/test-cluster.js';
import { keysWithPrimary } from './support/workload.js';

describe('a primary isolated from etcd and its peers (its lease expires while it runs)', () => {
  let cluster: TestCluster;
  const links: TcpLink[] = [];
  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 2 });
    // n3 reaches etcd and its peers only through links the test can cut, so nothing can
    // fence it or tell it about a new configuration; the test still reaches n3 directly.
    const etcdLink = await TcpLink.start(cluster.etcd.endpoint);
    const n1Link = await TcpLink.start(`127.0.0.1:${cluster.nodes.get('n1')!.port}`);
    const n2Link = await TcpLink.start(`127.0.0.1:${cluster.nodes.get('n2')!.port}`);
    links.push(etcdLink, n1Link, n2Link);
    // Port 0: n3 binds a port of its own and reports it (nodes.get('n3').port).
    await cluster.startNode('n3', 0, {
      MF_ETCD: etcdLink.endpoint,
      MF_PEER_ADDRESS_OVERRIDES: JSON.stringify({ n1: n1Link.endpoint, n2: n2Link.endpoint }),
    });
    await cluster.waitStable(3);
  });
  afterAll(async () => {
    for (const link of links) await link.close();
    await cluster?.stop();
  });

  it('steps down as primary without being fenced or seeing a new configuration, refuses writes with MF_NOT_PRIMARY, and takes a role again only from the FM', {
    timeout: 300_000,
  }, async () => {
    const proxy = await cluster.proxy();
    const configs = await cluster.configs();
    const mine = [...configs.values()].filter((c) => c.primary === 'n3').map((c) => c.partition);
    expect(mine.length).toBeGreaterThan(0);
    const [key] = keysWithPrimary(proxy, configs, 'n3', 'cut') as [string];
    const partition = proxy.partitionOf('counter', key);
    const oldEpoch = configs.get(partition)!.epoch;
    await proxy.call('counter', key, 'increment', { by: 1 }, { idempotencyKey: 'cut-before' });

    const n3Address = `127.0.0.1:${cluster.nodes.get('n3')!.port}`;
    const peers = new PeerClients(() => n3Address, {});
    const direct = new NodeService(n3Address, grpc.credentials.createInsecure(), channelOptions);
    try {
      const roles = async () => new Map((await peers.statuses('n3', 10_000)).map((s) => [s.partition, s]));
      expect((await roles()).get(partition)?.role).toBe('primary');

      for (const link of links) link.cut();
      // n3 cannot renew its lease, see a configuration or reach a secondary (which would
      // refuse its stream once fenced): it steps down on its own.
      await waitFor(
        async () => {
          const now = await roles();
          return mine.every((p) => now.get(p)?.role === 'none');
        },
        'n3 to leave every primary role while isolated',
        60_000,
        200,
      );
      const history = cluster.roleHistory().filter((r) => r.node === 'n3' && r.partition === partition);
      expect(history.at(-1)).toMatchObject({ role: 'none', epoch: oldEpoch });

      const refused = await callUnary<{ result: Buffer }>(
        direct,
        'CallActor',
        {
          service: 'counter',
          key,
          method: 'increment',
          payload: Buffer.from('{"by":1000}'),
          idempotencyKey: 'cut-refused',
          partition,
        },
        10_000,
      ).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'MF_NOT_PRIMARY' });

      // The rest of the cluster replaced it meanwhile and takes writes.
      const during = await proxy.call<{ value: number }>(
        'counter',
        key,
        'increment',
        { by: 1 },
        { idempotencyKey: 'cut-during', deadlineMs: 90_000 },
      );
      expect(during.value).toBe(2);
      // Still isolated, n3 stays out of the primary role (no new configuration reached it).
      await new Promise((r) => setTimeout(r, cluster.leaseTtlMs));
      const still = await roles();
      expect(mine.filter((p) => still.get(p)?.role === 'primary')).toEqual([]);
    } finally {
      for (const link of links) link.restore();
      peers.close();
      direct.close();
    }

    // Back in touch: n3 re-registers and the FM gives it roles again through new configurations.
    const back = await cluster.waitStable(3, 180_000);
    expect(back.get(partition)!.epoch).toBeGreaterThan(oldEpoch);
    expect(await proxy.call('counter', key, 'get', null)).toEqual({ value: 2, increments: 2 });
    expect(primaryConflicts(cluster.roleHistory())).toEqual([]);
  });
});
