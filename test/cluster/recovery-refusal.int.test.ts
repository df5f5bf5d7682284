import { afterEach, describe, expect, it } from 'vitest';
import { ActorHost } from '../../cluster/actors/actor-host.js';
import { ReplicatedPersistenceEngine } from '../../cluster/actors/replicated-persistence-engine.js';
import { ReplicatedReminderStore } from '../../cluster/actors/replicated-reminder-store.js';
import { partitionFor, type ServiceSpec } from '../../cluster/config/manifest.js';
import { maxReadFormat } from '../../cluster/format/persisted-format.js';
import { FormatGatedEngine, storeFormatOp } from '../../cluster/format/store-format.js';
import type { LocalReplicas } from '../../cluster/node/local-replicas.js';
import { NodeMetrics } from '../../cluster/node/metrics.js';
import type { PartitionConfiguration, PartitionId } from '../../cluster/replicator/contract.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import type { ReplicatedStore } from '../../cluster/replicator/store-api.js';
import { systemClock } from '../../core/clock.js';
import { isMeterfabricError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { config, dec, enc, removeNodeData, startNode, type TestNode } from '../replicator/support.js';

/**
 * An actor whose persisted state the node refuses to read (a store marked with a newer format,
 * a snapshot form the behaviour cannot read): its callers get that typed error, not a call
 * timeout (MF_NO_WRITE_QUORUM), the store is left byte for byte as it was, and the node's other
 * partitions serve. Real ActorHost, real replicated classic-level stores, gated as the data plane
 * gates them. The call timeout is set far above the test's own timeout: a caller left waiting
 * for it fails the test.
 */
const counter: ServiceSpec = {
  name: 'counter',
  partitioning: { kind: 'hashed', count: 8 },
  actor: { module: 'cluster/actors/counter-actor.js', export: 'counterActor' },
} as ServiceSpec;
const callTimeoutMs = 600_000;

/** Keys in distinct partitions of `counter`. */
function keysInDistinctPartitions(n: number): string[] {
  const byPartition = new Map<string, string>();
  for (let i = 0; byPartition.size < n; i++) {
    const key = `m-${i}`;
    const p = partitionFor(counter, key);
    if (!byPartition.has(p)) byPartition.set(p, key);
  }
  return [...byPartition.values()];
}

let nodes: TestNode[] = [];
let hosts: ActorHost[] = [];
afterEach(async () => {
  for (const h of hosts) await h.close();
  for (const n of nodes) await n.stop().catch(() => {});
  for (const n of nodes) removeNodeData(n);
  hosts = [];
  nodes = [];
});

async function startHost(node: TestNode, partitions: PartitionId[]) {
  const configs = new Map<PartitionId, PartitionConfiguration>();
  const stores = new Map<PartitionId, ReplicatedStore>();
  for (const p of partitions) {
    const replica = await node.host.replica(p);
    const c = config(p, 1, node.id, [node.id]);
    await replica.becomePrimary(c, () => node.address);
    configs.set(p, c);
    stores.set(p, replica);
  }
  const newHost = () => {
    const host = new ActorHost({
      nodeId: node.id,
      services: [counter],
      replicas: {} as LocalReplicas,
      // As the data plane opens a partition's actor store (cluster/node/data-plane.ts).
      openStore: async (p) => {
        const store = stores.get(p)!;
        return {
          engine: new FormatGatedEngine(new ReplicatedPersistenceEngine(store), store, p, silentLogger),
          reminders: new ReplicatedReminderStore(store),
        };
      },
      configOf: (p) => configs.get(p),
      primaryEpoch: (p) => configs.get(p)?.epoch ?? null,
      leaseValid: () => true,
      doubleApplyRetries: false,
      maxPayloadBytes: 1 << 20,
      callTimeoutMs,
      clock: systemClock,
      logger: silentLogger,
      metrics: new NodeMetrics(),
    });
    hosts.push(host);
    for (const c of configs.values()) host.activate(c);
    let seq = 0;
    const call = async (key: string, method: string, arg: unknown = null): Promise<unknown> =>
      JSON.parse(
        (
          await host.call({
            service: 'counter',
            key,
            method,
            payload: Buffer.from(JSON.stringify(arg)),
            idempotencyKey: `c-${seq++}`,
            partition: '',
          })
        ).toString(),
      );
    return { host, call };
  };
  return { stores, newHost };
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return isMeterfabricError(err)
      ? { code: err.code, message: err.message }
      : { code: '?', message: String(err) };
  }
  return { code: 'no error', message: '' };
}

const dump = async (store: ReplicatedStore) =>
  (await store.scan({})).map(([k, v]) => [k, Buffer.from(v).toString('base64')]);

describe('an actor whose stored state the node refuses', () => {
  it('a store marked with a newer format: every caller gets MF_PERSISTED_FORMAT (not a timeout), the store is intact, another partition serves', async () => {
    const node = await startNode('a');
    nodes.push(node);
    const [refusedKey, otherKey] = keysInDistinctPartitions(2) as [string, string];
    const refusedPartition = partitionFor(counter, refusedKey);
    const { stores, newHost } = await startHost(node, [refusedPartition, partitionFor(counter, otherKey)]);
    const first = newHost();
    expect(await first.call(refusedKey, 'increment', { by: 2 })).toEqual({ value: 2 });
    expect(await first.call(otherKey, 'increment', { by: 5 })).toEqual({ value: 5 });
    await first.host.close();

    // A newer build marked the partition's store (format 3); this node (as after a restart) reads up to 2.
    const store = stores.get(refusedPartition)!;
    await store.replicate([storeFormatOp(maxReadFormat + 1)]);
    const before = await dump(store);
    const { call } = newHost();

    // Calls queued while the actor recovers, and one after it stopped: all get the refusal.
    const queued = await Promise.all([
      failure(call(refusedKey, 'get')),
      failure(call(refusedKey, 'increment', { by: 1 })),
      failure(call(refusedKey, 'get')),
    ]);
    const later = await failure(call(refusedKey, 'increment', { by: 1 }));
    for (const f of [...queued, later]) {
      expect(f.code).toBe('MF_PERSISTED_FORMAT');
      expect(f.message).toBe(
        `the store of partition ${refusedPartition} is in persisted format ${maxReadFormat + 1}, but this node reads formats up to ${maxReadFormat}: it was written by a newer build; run that build (or newer) here, nothing was read or changed`,
      );
    }
    // The other partition on the same node serves; the refused store is byte for byte as it was.
    expect(await call(otherKey, 'increment', { by: 1 })).toEqual({ value: 6 });
    expect(await dump(store)).toStrictEqual(before);

    // The actor was not left half-recovered: once the store is readable (here: its mark back at
    // this build's format, as if a reader of format 3 were running), the next call recovers it.
    await store.replicate([storeFormatOp(maxReadFormat)]);
    expect(await call(refusedKey, 'get')).toEqual({ value: 2, increments: 1 });
  }, 120_000);

  it('a compact snapshot the behaviour cannot read: the caller gets MF_SNAPSHOT_FORM, the store is intact, another partition serves', async () => {
    const node = await startNode('a');
    nodes.push(node);
    const [badKey, otherKey] = keysInDistinctPartitions(2) as [string, string];
    const badPartition = partitionFor(counter, badKey);
    const { stores, newHost } = await startHost(node, [badPartition, partitionFor(counter, otherKey)]);
    const store = stores.get(badPartition)!;
    // A compact (s: 1) snapshot for a counter, whose behaviour has no stateFromSnapshot.
    const persistenceKey = `${badPartition}|${badKey}`;
    await store.replicate([
      encodeStateOp({
        kind: 'put',
        key: `__actors/${persistenceKey}/s`,
        value: enc(
          `{"data":{"user":"7,1","recent":[],"s":1},"sequenceNumber":1,"key":"${persistenceKey}","createdAt":1763942400000}`,
        ),
      }),
    ]);
    const before = await dump(store);
    const { call } = newHost();

    for (let attempt = 0; attempt < 2; attempt++) {
      const f = await failure(call(badKey, 'increment', { by: 1 }));
      expect(f.code).toBe('MF_SNAPSHOT_FORM');
      expect(f.message).toContain('compact form this behaviour cannot read');
    }
    expect(await call(otherKey, 'increment', { by: 3 })).toEqual({ value: 3 });
    expect(await dump(store)).toStrictEqual(before);
    expect(dec(await store.get(`__actors/${persistenceKey}/s`))).toContain('"s":1');
  }, 120_000);
});
