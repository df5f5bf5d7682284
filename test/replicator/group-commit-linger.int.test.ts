import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommitWriter, type NodeDb } from '../../cluster/replicator/disk/group-commit.js';
import { PartitionStore } from '../../cluster/replicator/disk/partition-store.js';

/**
 * The group commit's linger (issue 7): an idle writer whose last batch held more than one
 * write waits `lingerMs` for more writes before its batch; a lone writer never waits. The
 * linger is timed by a schedule the test controls, so nothing here depends on how fast the
 * box is.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openDb(path: string): Promise<NodeDb> {
  const db: NodeDb = new ClassicLevel<string, Uint8Array>(join(path, 'db'), {
    keyEncoding: 'utf8',
    valueEncoding: 'view',
  });
  await db.open();
  return db;
}

function manualSchedule(): {
  schedule: (run: () => void, ms: number) => void;
  fire: () => void;
  delays: number[];
} {
  const pending: (() => void)[] = [];
  const delays: number[] = [];
  return {
    schedule: (run, ms) => {
      pending.push(run);
      delays.push(ms);
    },
    fire: () => {
      for (const run of pending.splice(0)) run();
    },
    delays,
  };
}

/** Two writes in one batch (the second queued behind the first's in-flight batch, with a third): the writer has seen concurrent writers. */
async function primeConcurrent(
  writer: GroupCommitWriter,
  store: PartitionStore,
  firstLsn: number,
): Promise<void> {
  const a = writer.write(store.logOps([{ lsn: firstLsn, epoch: 1, ops: [] }]));
  const b = writer.write(store.logOps([{ lsn: firstLsn + 1, epoch: 1, ops: [] }]));
  const c = writer.write(store.logOps([{ lsn: firstLsn + 2, epoch: 1, ops: [] }]));
  await Promise.all([a, b, c]);
}

describe('group commit linger', () => {
  it('writes of several partitions made while the writer lingers go to disk in one synced batch, in order, and nothing resolves before it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-linger-'));
    dirs.push(dir);
    const db = await openDb(dir);
    const timer = manualSchedule();
    const writer = new GroupCommitWriter(db, { lingerMs: 2, schedule: timer.schedule });
    const stores = ['p/0', 'p/1', 'p/2'].map(
      (p) => new PartitionStore(p, PartitionStore.level(db, p), writer),
    );
    await primeConcurrent(writer, new PartitionStore('p/9', PartitionStore.level(db, 'p/9'), writer), 1);
    expect(timer.delays).toEqual([]);
    const primed = writer.batches;
    const done: number[] = [];
    const writes: Promise<void>[] = [];
    for (let lsn = 1; lsn <= 30; lsn++) {
      const store = stores[lsn % 3]!;
      writes.push(
        writer.write(store.logOps([{ lsn, epoch: 1, ops: [] }])).then(() => {
          done.push(lsn);
        }),
      );
      // Writes arrive a moment apart, as calls on several partitions do.
      await new Promise((r) => setImmediate(r));
    }
    expect(timer.delays).toEqual([2]);
    expect(done).toEqual([]);
    expect(writer.batches).toBe(primed);
    timer.fire();
    await Promise.all(writes);
    expect(done).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(writer.batches).toBe(primed + 1);
    expect(writer.opsWritten).toBe(33);
    await db.close();

    // Persisted: each partition reads its own entries back after a reopen.
    const again = await openDb(dir);
    for (const [i, p] of ['p/0', 'p/1', 'p/2'].entries()) {
      const store = new PartitionStore(p, PartitionStore.level(again, p), new GroupCommitWriter(again));
      const lsns = (await store.readLog(1, 30, 100)).map((e) => e.lsn);
      expect(lsns).toEqual(Array.from({ length: 30 }, (_, k) => k + 1).filter((lsn) => lsn % 3 === i));
    }
    await again.close();
  });

  it('writes made while a batch is in flight go into the next batch without a second linger; an idle writer lingers again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-linger-'));
    dirs.push(dir);
    const db = await openDb(dir);
    const timer = manualSchedule();
    const writer = new GroupCommitWriter(db, { lingerMs: 5, schedule: timer.schedule });
    const store = new PartitionStore('p/0', PartitionStore.level(db, 'p/0'), writer);
    await primeConcurrent(writer, store, 1);
    expect(writer.batches).toBe(2);
    const first = writer.write(store.logOps([{ lsn: 4, epoch: 1, ops: [] }]));
    expect(timer.delays).toEqual([5]);
    timer.fire();
    // The lingered batch is in flight (drain started synchronously): these queue behind it.
    const second = writer.write(store.logOps([{ lsn: 5, epoch: 1, ops: [] }]));
    const third = writer.write(store.logOps([{ lsn: 6, epoch: 1, ops: [] }]));
    await Promise.all([first, second, third]);
    expect(timer.delays).toEqual([5]);
    expect(writer.batches).toBe(4);
    // Its last batch held two writes: idle again, it lingers again.
    const fourth = writer.write(store.logOps([{ lsn: 7, epoch: 1, ops: [] }]));
    expect(timer.delays).toEqual([5, 5]);
    timer.fire();
    await fourth;
    expect(writer.batches).toBe(5);
    expect((await store.readLog(1, 7, 10)).map((e) => e.lsn)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await db.close();
  });

  it('a lone writer (one write per batch) never lingers, and a writer whose last batch held one write stops lingering', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-linger-'));
    dirs.push(dir);
    const db = await openDb(dir);
    const timer = manualSchedule();
    const writer = new GroupCommitWriter(db, { lingerMs: 5, schedule: timer.schedule });
    const store = new PartitionStore('p/0', PartitionStore.level(db, 'p/0'), writer);
    for (let lsn = 1; lsn <= 5; lsn++) await writer.write(store.logOps([{ lsn, epoch: 1, ops: [] }]));
    expect(timer.delays).toEqual([]);
    expect(writer.batches).toBe(5);
    await primeConcurrent(writer, store, 6);
    const lingered = writer.write(store.logOps([{ lsn: 9, epoch: 1, ops: [] }]));
    expect(timer.delays).toEqual([5]);
    timer.fire();
    await lingered;
    // That batch held one write: the next write goes at once.
    await writer.write(store.logOps([{ lsn: 10, epoch: 1, ops: [] }]));
    expect(timer.delays).toEqual([5]);
    expect((await store.readLog(1, 10, 20)).map((e) => e.lsn)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // And with no linger configured nothing is ever scheduled.
    const plain = new GroupCommitWriter(db, { lingerMs: 0, schedule: timer.schedule });
    await primeConcurrent(plain, store, 11);
    await plain.write(store.logOps([{ lsn: 14, epoch: 1, ops: [] }]));
    expect(timer.delays).toEqual([5]);
    await db.close();
  });
});
