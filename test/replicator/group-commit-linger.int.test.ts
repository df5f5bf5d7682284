import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommitWriter, type NodeDb } from '../../cluster/replicator/disk/group-commit.js';
import { PartitionStore } from '../../cluster/replicator/disk/partition-store.js';

/**
 * The group commit's linger (issue 7): an idle writer waits `lingerMs` for more writes before
 * its batch. The linger is timed by a schedule the test controls, so nothing here depends on
 * how fast the box is.
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
    expect(writer.batches).toBe(0);
    timer.fire();
    await Promise.all(writes);
    expect(done).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(writer.batches).toBe(1);
    expect(writer.opsWritten).toBe(30);
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
    const first = writer.write(store.logOps([{ lsn: 1, epoch: 1, ops: [] }]));
    timer.fire();
    // The first batch is in flight (drain started synchronously): these queue behind it.
    const second = writer.write(store.logOps([{ lsn: 2, epoch: 1, ops: [] }]));
    const third = writer.write(store.logOps([{ lsn: 3, epoch: 1, ops: [] }]));
    await Promise.all([first, second, third]);
    expect(timer.delays).toEqual([5]);
    expect(writer.batches).toBe(2);
    const fourth = writer.write(store.logOps([{ lsn: 4, epoch: 1, ops: [] }]));
    expect(timer.delays).toEqual([5, 5]);
    timer.fire();
    await fourth;
    expect(writer.batches).toBe(3);
    expect((await store.readLog(1, 4, 10)).map((e) => e.lsn)).toEqual([1, 2, 3, 4]);
    await db.close();
  });

  it('without a linger (0) the writer starts its batch at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-linger-'));
    dirs.push(dir);
    const db = await openDb(dir);
    const timer = manualSchedule();
    const writer = new GroupCommitWriter(db, { lingerMs: 0, schedule: timer.schedule });
    const store = new PartitionStore('p/0', PartitionStore.level(db, 'p/0'), writer);
    await writer.write(store.logOps([{ lsn: 1, epoch: 1, ops: [] }]));
    expect(timer.delays).toEqual([]);
    expect(writer.batches).toBe(1);
    await db.close();
  });
});
