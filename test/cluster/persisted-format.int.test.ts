import type { Etcd3 } from 'etcd3';
import { stop } from 'nact';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActorBehaviour } from '../../cluster/actors/actor-definition.js';
import type { ActivePartition, CallReply } from '../../cluster/actors/actor-turn.js';
import { createSpawnOptions } from '../../cluster/actors/actor-turn.js';
import { ReplicatedPersistenceEngine } from '../../cluster/actors/replicated-persistence-engine.js';
import { maxReadFormat } from '../../cluster/format/persisted-format.js';
import { FormatGatedEngine, storeFormatKey, storeFormatOp } from '../../cluster/format/store-format.js';
import { createEtcdClient, keys } from '../../cluster/membership/etcd-client.js';
import { Membership } from '../../cluster/membership/membership.js';
import { WriteFormatWatch } from '../../cluster/membership/write-format.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';
import type { ReplicatedStore } from '../../cluster/replicator/store-api.js';
import { systemClock } from '../../core/clock.js';
import { isMeterfabricError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { dec, enc } from '../replicator/support.js';
import { startTestEtcd, type TestEtcd } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import { replicatedTurnPerTest } from './support/replicated-turn.js';

/**
 * The persisted-format gate on real etcd registrations and a real partition store
 * (classic-level under the replicator): writers follow the cluster's write format, a store or
 * snapshot above this build's format is refused and left intact, main's old forms replay.
 */
type Tally = { amounts: number[] };
const tally: ActorBehaviour<Tally, { add: number }> = {
  initialState: () => ({ amounts: [] }),
  handle: (state, method, arg) =>
    method === 'sum'
      ? { result: state.amounts.reduce((a, b) => a + b, 0) }
      : { event: { add: Number(arg) }, result: null },
  apply: (s, e) => ({ amounts: [...s.amounts, e.add] }),
  snapshotOf: (s) => s.amounts.join(','),
  stateFromSnapshot: (snap) => ({ amounts: String(snap).split(',').filter(Boolean).map(Number) }),
};

const partition = 'tally/0';
const turn = replicatedTurnPerTest(partition);
let etcd: TestEtcd | null = null;
let clients: Etcd3[] = [];
let memberships: Membership[] = [];
afterEach(async () => {
  for (const m of memberships) await m.close().catch(() => {});
  for (const c of clients) c.close();
  await etcd?.cleanup();
  etcd = null;
  memberships = [];
  clients = [];
});

/** The partition on one node, its primary (epoch 1). */
async function primaryStore(): Promise<ReplicatedStore> {
  return (await turn.startPartition(['a'])).store;
}

/**
 * One tally actor hosted as a node hosts it (the real turn over the format-gated engine),
 * snapshotting every 5 events. Calls without an `idem` get c-0, c-1, ... in order.
 */
function hostTally(store: ReplicatedStore, writeFormat?: () => number) {
  const hosted = turn.hostActor(store, {
    service: 'tally',
    key: 'k1',
    behaviour: tally,
    onFire: async () => undefined, // tally sets no reminders
    callTimeoutMs: 20_000,
    formatGated: true,
    ...(writeFormat ? { writeFormat } : {}),
    snapshotEvery: 5,
  });
  let seq = 0;
  const call = (method: string, arg: unknown, idem = `c-${seq++}`): Promise<CallReply> =>
    hosted.call(method, arg, idem);
  return { call, system: hosted.system };
}

const snapshotKey = `__actors/${partition}|k1/s`;
type StoredSnapshot = { data: { user: unknown; s?: number }; sequenceNumber: number };
async function storedSnapshot(store: ReplicatedStore): Promise<StoredSnapshot | undefined> {
  const text = dec(await store.get(snapshotKey));
  return text ? (JSON.parse(text) as StoredSnapshot) : undefined;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isMeterfabricError(err) ? err.code : String(err);
  }
  return 'no error';
}

describe('persisted formats on real etcd and a real partition store', () => {
  it('a cluster where one node advertises format 1 writes plain snapshots, and compact ones once that node leaves (its lease expires)', async () => {
    etcd = await startTestEtcd();
    const client = createEtcdClient([etcd.endpoint]);
    clients.push(client);
    const cluster = 'fmt';
    const current = new Membership({
      client,
      cluster,
      record: {
        id: 'new-1',
        address: '127.0.0.1:1',
        metricsAddress: '',
        startedAt: new Date().toISOString(),
        version: '0.1.0',
        draining: false,
        readsFormat: maxReadFormat,
      },
      leaseTtlMs: 3000,
      leaseMarginMs: 500,
      clock: systemClock,
      logger: silentLogger,
    });
    memberships.push(current);
    // An old build's registration: no readsFormat field, under a lease nobody keeps alive.
    const oldClient = createEtcdClient([etcd.endpoint]);
    clients.push(oldClient);
    const oldLease = oldClient.lease(2, { autoKeepAlive: false });
    await oldLease.put(keys.node(cluster, 'old-1')).value(
      JSON.stringify({
        id: 'old-1',
        address: '127.0.0.1:2',
        metricsAddress: '',
        startedAt: new Date().toISOString(),
        version: '0.1.0',
        draining: false,
      }),
    );
    const watch = new WriteFormatWatch(current, silentLogger);
    await current.start();
    expect([...current.nodes.keys()].sort()).toStrictEqual(['new-1', 'old-1']);
    expect(watch.current).toBe(1);

    const store = await primaryStore();
    const first = hostTally(store, () => watch.current);
    const call = first.call;
    for (let i = 1; i <= 5; i++) expect((await call('add', i)).ok).toBe(true);
    await waitFor(async () => (await storedSnapshot(store)) !== undefined, 'the first snapshot', 20_000);
    const plain = await storedSnapshot(store);
    expect(plain?.data.s).toBeUndefined();
    expect(plain?.data.user).toStrictEqual({ amounts: [1, 2, 3, 4, 5] });
    expect(await store.get(storeFormatKey)).toBeUndefined();

    // The old node's lease expires: every live node reads format 2, so the compact form switches on.
    await waitFor(() => watch.current === 2, 'the write format to reach 2', 30_000);
    expect([...current.nodes.keys()]).toStrictEqual(['new-1']);
    for (let i = 6; i <= 10; i++) expect((await call('add', i)).ok).toBe(true);
    await waitFor(
      async () => ((await storedSnapshot(store))?.sequenceNumber ?? 0) >= 10,
      'the second snapshot',
      20_000,
    );
    const compact = await storedSnapshot(store);
    expect(compact?.data.s).toBe(1);
    expect(compact?.data.user).toBe('1,2,3,4,5,6,7,8,9,10');
    expect(dec(await store.get(storeFormatKey))).toBe('2');

    // A new incarnation (as after a failover) recovers from the compact snapshot.
    stop(first.system);
    const again = hostTally(store, () => watch.current).call;
    expect(await again('sum', null, 'sum-1')).toStrictEqual({ ok: true, result: 55 });
  });

  it('a store marked with a future format is refused with MF_PERSISTED_FORMAT and left intact', async () => {
    const store = await primaryStore();
    const { call } = hostTally(store, () => 2);
    for (let i = 1; i <= 3; i++) expect((await call('add', i)).ok).toBe(true);
    await store.replicate([storeFormatOp(maxReadFormat + 1)]);
    const before = await store.scan({});
    expect(before.length).toBeGreaterThan(3);

    const engine = new FormatGatedEngine(new ReplicatedPersistenceEngine(store), store, partition);
    const key = `${partition}|k1`;
    expect(await codeOf(engine.latestSnapshot(key))).toBe('MF_PERSISTED_FORMAT');
    expect(await codeOf(engine.events(key, 0, 0, []).reduce((n) => n + 1, 0))).toBe('MF_PERSISTED_FORMAT');
    const event = { data: { idem: 'x', event: { add: 1 }, result: null }, sequenceNumber: 4, key, tags: [] };
    expect(await codeOf(engine.persist(event as never))).toBe('MF_PERSISTED_FORMAT');
    let message = '';
    await engine.latestSnapshot(key).catch((err: unknown) => {
      message = String(err);
    });
    expect(message).toContain(`partition ${partition} is in persisted format ${maxReadFormat + 1}`);

    const after = await store.scan({});
    expect(after.map(([k, v]) => [k, dec(v)])).toStrictEqual(before.map(([k, v]) => [k, dec(v)]));
  });

  it('a snapshot in a form above what this node reads gives MF_PERSISTED_FORMAT, and the store is intact', async () => {
    const store = await primaryStore();
    const future = { data: { user: 'AAEC', recent: [], f: maxReadFormat + 1 }, sequenceNumber: 5, key: 'x' };
    await store.replicate([
      encodeStateOp({ kind: 'put', key: snapshotKey, value: enc(JSON.stringify(future)) }),
    ]);
    const before = await store.scan({});
    const engine = new FormatGatedEngine(new ReplicatedPersistenceEngine(store), store, partition);
    const snapshot = await engine.latestSnapshot(`${partition}|k1`);
    // The decoder nact calls on recovery (the actor turn's snapshotDecoder).
    const { properties } = createSpawnOptions({} as ActivePartition, tally, 'tally', {
      dedup: true,
      clock: systemClock,
      logger: silentLogger,
      invoke: async () => undefined,
      send: () => undefined,
    }) as { properties: { snapshotDecoder: (e: unknown) => unknown } };
    expect(await codeOf(Promise.resolve().then(() => properties.snapshotDecoder(snapshot.data)))).toBe(
      'MF_PERSISTED_FORMAT',
    );
    const after = await store.scan({});
    expect(after.map(([k, v]) => [k, dec(v)])).toStrictEqual(before.map(([k, v]) => [k, dec(v)]));
  });

  it('records and snapshots in the forms the current main writes still replay (and dedup)', async () => {
    const store = await primaryStore();
    const key = `${partition}|k1`;
    const put = (k: string, v: string) => encodeStateOp({ kind: 'put', key: k, value: enc(v) });
    // Byte for byte what main's ReplicatedPersistenceEngine stored: a compact snapshot at seq 2
    // with two recent keys, then two format-1 records after it.
    await store.replicate([
      put(
        snapshotKey,
        `{"data":{"user":"4,6","recent":[["c-0",null],["c-1",null]],"s":1},"sequenceNumber":2,"key":"${key}","createdAt":1763942400000}`,
      ),
      put(
        `__actors/${key}/e/000000000003`,
        `{"data":{"idem":"c-2","event":{"add":10},"result":null},"sequenceNumber":3,"key":"${key}","tags":[],"createdAt":1763942401000}`,
      ),
      put(
        `__actors/${key}/e/000000000004`,
        `{"data":{"idem":"c-3","event":{"add":20},"result":null},"sequenceNumber":4,"key":"${key}","tags":[],"createdAt":1763942402000}`,
      ),
    ]);
    const first = hostTally(store, () => 2);
    const call = first.call;
    expect(await call('sum', null, 'q-1')).toStrictEqual({ ok: true, result: 40 });
    // A retry of a call replayed from the old records is answered from the dedup table.
    expect(await call('add', 1000, 'c-3')).toStrictEqual({ ok: true, result: null });
    expect(await call('sum', null, 'q-2')).toStrictEqual({ ok: true, result: 40 });
    // A plain snapshot (format 1) as main wrote it before 2d1ec81 replays as well.
    await store.replicate([
      put(
        snapshotKey,
        `{"data":{"user":{"amounts":[1,2]},"recent":[]},"sequenceNumber":4,"key":"${key}","createdAt":1763942403000}`,
      ),
    ]);
    stop(first.system);
    const again = hostTally(store, () => 2).call;
    expect(await again('sum', null, 'q-3')).toStrictEqual({ ok: true, result: 3 });
  });
});
