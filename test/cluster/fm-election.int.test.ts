import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigStore } from '../../cluster/failover/config-store.js';
import { FmElection, type Leadership } from '../../cluster/failover/fm-election.js';
import { createEtcdClient } from '../../cluster/membership/etcd-client.js';
import type { PartitionConfiguration } from '../../cluster/replicator/contract.js';
import { silentLogger } from '../../core/logger.js';
import { startTestEtcd, type TestEtcd } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';

const config = (epoch: number): PartitionConfiguration => ({
  partition: 'counter/0',
  epoch,
  primary: 'n1',
  replicas: ['n1', 'n2', 'n3'],
  building: [],
  status: 'ok',
  previousEpochLastLsn: 0,
});

describe('failover manager election and configuration writes (real etcd)', () => {
  let etcd: TestEtcd;
  beforeAll(async () => {
    etcd = await startTestEtcd();
  });
  afterAll(async () => {
    await etcd?.cleanup();
  });

  it('elects one FM; only its token writes, only over the revision it read; a deposed FM cannot write', async () => {
    const client = createEtcdClient([etcd.endpoint]);
    const leases = [client.lease(2), client.lease(2)];
    const led: Array<Leadership | null> = [null, null];
    const elections = ['n1', 'n2'].map(
      (id, i) =>
        new FmElection(
          client,
          'fmtest',
          id,
          () => leases[i]!.grant(),
          silentLogger,
          (l) => {
            led[i] = l;
          },
          () => {
            led[i] = null;
          },
        ),
    );
    try {
      await elections[0]!.start();
      await elections[1]!.start();
      const first = await waitFor(() => led[0], 'n1 to be elected', 10_000);
      expect(led[1]).toBeNull();

      const store = new ConfigStore(client, 'fmtest');
      const rev1 = await store.write(config(1), '0', first.token);
      // Absent-key create twice, a stale revision, or a token that does not lead: refused.
      await expect(store.write(config(1), '0', first.token)).rejects.toMatchObject({
        code: 'MF_CONFIG_CONFLICT',
      });
      const rev2 = await store.write(config(2), rev1, first.token);
      await expect(store.write(config(3), rev1, first.token)).rejects.toMatchObject({
        code: 'MF_CONFIG_CONFLICT',
      });
      await expect(store.write(config(3), rev2, '999999')).rejects.toMatchObject({
        code: 'MF_CONFIG_CONFLICT',
      });
      // Two replicas on one node never reach etcd.
      await expect(
        store.write({ ...config(3), replicas: ['n1', 'n1', 'n2'] }, rev2, first.token),
      ).rejects.toMatchObject({
        code: 'MF_INVARIANT',
      });

      // n1's lease ends: n2 is elected, and n1's token no longer writes.
      await leases[0]!.revoke();
      const second = await waitFor(() => led[1], 'n2 to be elected', 10_000);
      expect(second.token).not.toBe(first.token);
      await waitFor(() => led[0] === null, 'n1 to learn it was deposed', 10_000);
      await expect(store.write(config(3), rev2, first.token)).rejects.toMatchObject({
        code: 'MF_CONFIG_CONFLICT',
      });
      await store.write(config(3), rev2, second.token);
      expect((await store.readAll()).get('counter/0')?.config.epoch).toBe(3);
    } finally {
      for (const e of elections) await e.close();
      for (const l of leases) await l.revoke().catch(() => undefined);
      client.close();
    }
  });
});
