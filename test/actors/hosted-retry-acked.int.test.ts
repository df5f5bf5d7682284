import { expect, it } from 'vitest';
import { ActorProxyPorts } from '../../actors/host/service-ports.js';
import type { HostedReply } from '../../actors/hosting/outbox.js';
import type { RegistryCommand } from '../../actors/registry/commands.js';
import { headendClusterPerFile } from '../headend/support/headend-cluster.js';

/**
 * A hosted head-end actor on three real nodes persists only its outbox entry's id per call
 * (actors/hosting/outbox.ts storeEntries): a call retried with the same idempotency key is
 * answered from the actor's state, with the entry while it is unacknowledged and with
 * `acknowledged` once the driver has acknowledged it, also by a new primary after the old
 * one was killed (rebuilt from the replicated log).
 */
const headend = headendClusterPerFile(90_000);

const concentrator: RegistryCommand = {
  type: 'upsertConcentrator',
  id: 'TD-H8',
  concentratorType: 'DC450',
  serial: 'DC0008',
  substation: 'SUB-1',
  transformer: 'TR-1',
  timeZone: 'Europe/Rome',
  communicationType: 'gprs',
  address: '127.0.0.1:40008',
};

it('a call retried after its entry was acknowledged is told so, also after a failover, and nothing runs twice', {
  timeout: 300_000,
}, async () => {
  const { proxy, cluster } = headend();
  const key = 'h8-retry';
  const call = (command: unknown, idempotencyKey: string) =>
    proxy.call<HostedReply<unknown>>(
      'registry',
      key,
      'command',
      { command, atMs: 1_000 },
      { idempotencyKey },
    );
  const upsert = { type: 'deliver', deliveries: [{ from: 'test', seq: 1, commands: [concentrator] }] };

  const first = await call(upsert, 'h8-r1');
  expect(first.effects).toHaveLength(1);
  const id = first.effects[0]!.id;
  expect(first.effects[0]!.effects).toContainEqual({ type: 'concentratorChanged', concentratorId: 'TD-H8' });
  // Retried while the entry is unacknowledged: the same entry, rebuilt from the outbox.
  expect(await call(upsert, 'h8-r1')).toEqual(first);

  expect(await call({ type: 'deliver', deliveries: [], ack: [id] }, 'h8-r2')).toEqual({ effects: [] });
  const acknowledged = { effects: [], acknowledged: [id] };
  expect(await call(upsert, 'h8-r1')).toEqual(acknowledged);
  // What a driver sees through its port: nothing to deliver again.
  const ports = new ActorProxyPorts(proxy);
  expect(await ports.deliver({ service: 'registry', key }, upsert as never, 1_000, 'h8-r1')).toEqual([]);

  const victim = (await cluster.configs()).get(proxy.partitionOf('registry', key))!.primary!;
  await cluster.signal(victim, 'SIGKILL');
  // The proxy retries until a new primary has replayed the actor.
  expect(await call(upsert, 'h8-r1')).toEqual(acknowledged);
  const successor = (await cluster.configs()).get(proxy.partitionOf('registry', key))!.primary;
  expect(successor).not.toBe(victim);

  const state = await ports.state({ service: 'registry', key });
  expect(state.outbox).toEqual([]);
  expect(state.nextId).toBe(id + 1); // no call ran a second time
  expect(Object.keys(state.inner.concentrators)).toEqual(['TD-H8']);
});
