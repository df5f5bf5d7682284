import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommitWriter, type NodeDb } from '../../cluster/replicator/disk/group-commit.js';
import { PartitionStore } from '../../cluster/replicator/disk/partition-store.js';
import { encodeStateOp } from '../../cluster/replicator/state-ops.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openDb(dir?: string): Promise<{ db: NodeDb; dir: string }> {
  const path = dir ?? mkdtempSync(join(tmpdir(), 'mf-disk-'));
  if (!dir) dirs.push(path);
  const db: NodeDb = new ClassicLevel<string, Uint8Array>(join(path, 'db'), {
    keyEncoding: 'utf8',
    valueEncoding: 'view',
  });
  await db.open();
  return { db, dir: path };
}

describe('node database', () => {
  it('group commit: writes submitted while one batch is in flight go to disk together, in order, across partitions', async () => {
    const { db } = await openDb();
    const writer = new GroupCommitWriter(db);
    const stores = ['p/0', 'p/1', 'p/2'].map(
      (p) => new PartitionStore(p, PartitionStore.level(db, p), writer),
    );
    const done: number[] = [];
    const writes = [];
    for (let lsn = 1; lsn <= 300; lsn++) {
      const store = stores[lsn % 3]!;
      writes.push(writer.write(store.logOps([{ lsn, epoch: 1, ops: [] }])).then(() => done.push(lsn)));
    }
    await Promise.all(writes);
    expect(done).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(writer.batches).toBeLessThan(300 / 10); // grouped: far fewer fsyncs than writes
    expect((await stores[1]!.readLog(1, 300, 1000)).length).toBe(100);
    await db.close();
  });

  it('a partition reopens from disk with its fencing epoch, history, log and applied state; an interrupted copy is wiped but the fencing epoch kept', async () => {
    const first = await openDb();
    let writer = new GroupCommitWriter(first.db);
    let store = new PartitionStore('p/9', PartitionStore.level(first.db, 'p/9'), writer);
    const put = encodeStateOp({ kind: 'put', key: 'k', value: new Uint8Array([1]) });
    await writer.write([
      ...store.logOps([
        { lsn: 1, epoch: 2, ops: [put] },
        { lsn: 2, epoch: 2, ops: [] },
      ]),
      store.fenceOp(3),
      store.historyOp([{ epoch: 2, firstLsn: 1 }]),
    ]);
    await store.apply([{ lsn: 1, epoch: 2, ops: [put] }], 1);
    await first.db.close();

    const second = await openDb(first.dir);
    writer = new GroupCommitWriter(second.db);
    store = new PartitionStore('p/9', PartitionStore.level(second.db, 'p/9'), writer);
    expect(await store.load()).toEqual({
      fencedEpoch: 3,
      history: [{ epoch: 2, firstLsn: 1 }],
      logStartLsn: 1,
      lastPersistedLsn: 2,
      appliedLsn: 1,
    });
    expect([...((await store.get('k')) ?? [])]).toEqual([1]);
    await store.beginCopy(); // then "crash" before the copy ends
    await store.writer.write(store.copyRecordOps([{ key: 'S:d:half', value: new Uint8Array([9]) }]));
    await second.db.close();

    const third = await openDb(first.dir);
    store = new PartitionStore('p/9', PartitionStore.level(third.db, 'p/9'), new GroupCommitWriter(third.db));
    const init = await store.load();
    expect(init).toMatchObject({ fencedEpoch: 3, lastPersistedLsn: 0, appliedLsn: 0, history: [] });
    expect(await store.get('half')).toBeUndefined();
    await third.db.close();
  });
});
