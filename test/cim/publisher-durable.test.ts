import { mkdtemp, open as openFile, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CimFileHandle, CimFileOps } from '../../actors/integration/cim-commit.js';
import { CimPublisher, messageXml } from '../../actors/integration/cim-publisher.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import type { EndDeviceEventInput } from '../../adapters/cim/end-device-events.js';
import { ManualClock } from '../../core/clock.js';
import { hourlyReadings } from './support/hourly-readings.js';

/**
 * Issue 7: a CIM batch is durable before it counts as published. The publisher's file
 * operations run on real files in a temp dir through a recording wrapper (node:fs/promises
 * underneath), so the tests see the order of the real writes, fsyncs and renames against the
 * moment the publish promise resolved and the moment a subscriber heard, and can make one
 * fsync fail.
 */
const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-cim-durable-'));
  dirs.push(dir);
  return dir;
}

function batchOf(readingCount: number, correlationIds: readonly string[], tag: string): OutputBatch {
  const readings = hourlyReadings(readingCount, tag, 7, t0);
  const events: EndDeviceEventInput[] = correlationIds.map((correlationId, i) => ({
    deviceId: `${tag}${i}`,
    deviceKind: 'meter',
    key: 'meter.relayOpened',
    phase: 'occurred',
    usagePoint: `P${i}`,
    timestampMs: t0 + i * 1000,
    ...(correlationId ? { correlationId } : {}),
  }));
  return { csv: {}, readings, events };
}

type Recorder = {
  ops: CimFileOps;
  /** `<op> <path>` in the order the real operations completed, plus the test's own marks. */
  log: string[];
  /** Make the fsync of the first path matching this fail (once). */
  failSyncOf?: (path: string) => boolean;
  /** Held before the real fsync of a directory, when set. */
  gateDirSync?: Promise<void>;
  /** Each directory fsync takes this much longer, so one not awaited would finish late. */
  slowDirSyncMs?: number;
};

function recorder(): Recorder {
  const r: Recorder = {
    log: [],
    ops: {
      async open(path, flags) {
        const fh = await openFile(path, flags);
        const handle: CimFileHandle = {
          async writeFile(data) {
            r.log.push(`write-start ${path}`);
            await fh.writeFile(data);
            r.log.push(`write ${path}`);
          },
          async sync() {
            if (flags === 'r' && r.gateDirSync) await r.gateDirSync;
            if (flags === 'r' && r.slowDirSyncMs)
              await new Promise((done) => setTimeout(done, r.slowDirSyncMs));
            if (r.failSyncOf?.(path)) {
              r.failSyncOf = undefined;
              r.log.push(`sync-failed ${path}`);
              throw Object.assign(new Error(`EIO: injected fsync failure, ${path}`), { code: 'EIO' });
            }
            await fh.sync();
            r.log.push(`sync ${path}`);
          },
          stat: () => fh.stat(),
          async truncate(lengthBytes) {
            await fh.truncate(lengthBytes);
            r.log.push(`truncate ${path}`);
          },
          close: () => fh.close(),
        };
        return handle;
      },
      async rename(fromPath, toPath) {
        r.log.push(`rename-start ${fromPath}`);
        const { rename } = await import('node:fs/promises');
        await rename(fromPath, toPath);
        r.log.push(`rename ${fromPath} ${toPath}`);
      },
      async mkdir(path) {
        const { mkdir } = await import('node:fs/promises');
        await mkdir(path, { recursive: true });
        r.log.push(`mkdir ${path}`);
      },
    },
  };
  return r;
}

function indexOf(log: readonly string[], entry: string): number {
  const i = log.indexOf(entry);
  expect(i, `${entry} in the recorded operations`).toBeGreaterThanOrEqual(0);
  return i;
}

/** Every file under `<out>/cim/`, relative path -> bytes. */
async function cimTree(outDir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const cim = join(outDir, 'cim');
  for (const entry of await readdir(cim, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      out.set(path.slice(cim.length + 1), await readFile(path));
    }
  return out;
}

describe('CimPublisher durability', () => {
  it('fsyncs every message file before its rename, then the directories, then the log line, before the promise resolves and before the listener hears', async () => {
    const outDir = await tempDir();
    const r = recorder();
    r.slowDirSyncMs = 30;
    const publisher = await CimPublisher.open({
      outDir,
      source: 'n1',
      clock: new ManualClock(t0),
      maxReadingsPerMessage: 10,
      fileOps: r.ops,
    });
    const heardBytes = new Map<string, Buffer>();
    publisher.subscribe(0, (m) => {
      r.log.push(`heard ${m.messageId}`);
      heardBytes.set(m.messageId, Buffer.from(m.bytes));
    });
    const published = await publisher.publish(batchOf(25, ['req-1', 'req-2'], 'A'), 7);
    r.log.push('resolved');
    // 3 MeterReadings messages (10 readings each at most) and one EndDeviceEvents per CorrelationID.
    expect(published.map((m) => m.noun)).toEqual([
      'MeterReadings',
      'MeterReadings',
      'MeterReadings',
      'EndDeviceEvents',
      'EndDeviceEvents',
    ]);
    const cim = join(outDir, 'cim');
    const logPath = join(cim, 'batches.log');
    const logWrite = indexOf(r.log, `write-start ${logPath}`);
    const logSync = indexOf(r.log, `sync ${logPath}`);
    const firstHeard = r.log.findIndex((e) => e.startsWith('heard '));
    const resolved = indexOf(r.log, 'resolved');
    expect(logWrite).toBeLessThan(logSync);
    expect(logSync).toBeLessThan(firstHeard);
    expect(firstHeard).toBeLessThan(resolved);
    for (const noun of ['MeterReadings', 'EndDeviceEvents']) {
      const dirSync = indexOf(r.log, `sync ${join(cim, noun)}`);
      // Once per directory per commit, after every rename into it, before the log line.
      expect(r.log.filter((e) => e === `sync ${join(cim, noun)}`)).toHaveLength(1);
      expect(dirSync).toBeLessThan(logWrite);
      for (const m of published.filter((p) => p.noun === noun)) {
        const path = join(cim, noun, `0000000007-${m.messageId}.xml`);
        const write = indexOf(r.log, `write ${path}.tmp`);
        const sync = indexOf(r.log, `sync ${path}.tmp`);
        const rename = indexOf(r.log, `rename ${path}.tmp ${path}`);
        expect(write).toBeLessThan(sync);
        expect(sync).toBeLessThan(indexOf(r.log, `rename-start ${path}.tmp`));
        expect(rename).toBeLessThan(dirSync);
        expect(await readFile(path)).toEqual(heardBytes.get(m.messageId));
      }
    }
    // The directories this process created (cim/, and its entry in the out dir) are durable too.
    expect(indexOf(r.log, `sync ${cim}`)).toBeLessThan(firstHeard);
    expect(indexOf(r.log, `sync ${outDir}`)).toBeLessThan(logWrite);
    expect(r.log.filter((e) => e.startsWith('heard '))).toHaveLength(5);
    expect(await readFile(logPath, 'utf8')).toBe('7 3 2\n');
  });

  for (const [what, failing] of [
    ['a message temp file', (path: string) => path.endsWith('.xml.tmp')],
    ['a noun directory', (path: string) => path.endsWith('EndDeviceEvents')],
    ['batches.log', (path: string) => path.endsWith('batches.log')],
  ] as const) {
    it(`a failing fsync of ${what} rejects the publish, logs nothing and announces nothing; the replay publishes it once`, async () => {
      const outDir = await tempDir();
      const r = recorder();
      const publisher = await CimPublisher.open({
        outDir,
        source: 'n1',
        clock: new ManualClock(t0),
        fileOps: r.ops,
      });
      const heard: number[] = [];
      const heardXml: string[] = [];
      publisher.subscribe(0, (m) => {
        heard.push(m.position);
        heardXml.push(messageXml(m));
      });
      await publisher.publish(batchOf(5, ['req-0'], 'A'), 1);
      const logPath = join(outDir, 'cim', 'batches.log');
      expect(await readFile(logPath, 'utf8')).toBe('1 1 1\n');
      heard.length = 0;

      r.failSyncOf = failing;
      await expect(publisher.publish(batchOf(6, ['req-1'], 'B'), 2)).rejects.toMatchObject({ code: 'EIO' });
      expect(r.log.some((e) => e.startsWith('sync-failed '))).toBe(true);
      // Nothing vouched for batch 2 (a failed log append is cut back), nobody heard of it.
      expect(await readFile(logPath, 'utf8')).toBe('1 1 1\n');
      expect(heard).toEqual([]);
      expect(publisher.lastPublishedSeq).toBe(1);

      // The stream replays the unacknowledged entry: it is written and announced once.
      const replayed = await publisher.publish(batchOf(6, ['req-1'], 'B'), 2);
      expect(replayed).toHaveLength(2);
      expect(heard).toEqual(replayed.map((m) => m.position));
      expect(await readFile(logPath, 'utf8')).toBe('1 1 1\n2 1 1\n');
      for (const [i, m] of replayed.entries())
        expect(await readFile(join(outDir, 'cim', m.noun, `0000000002-${m.messageId}.xml`), 'utf8')).toBe(
          heardXml.at(i - replayed.length),
        );
      // A fresh process restores both batches from disk, the same messages.
      const reopened = await CimPublisher.open({ outDir, source: 'n1', clock: new ManualClock(t0) });
      const restored: string[] = [];
      await reopened.subscribe(0, (m) => restored.push(messageXml(m))).caughtUp;
      expect(restored.slice(-2)).toEqual(heardXml.slice(-2));
      expect(restored).toHaveLength(4);
    });
  }

  it('batches written while a commit runs share the next one, and leave the same files and log byte for byte as one at a time', async () => {
    const batches = Array.from({ length: 6 }, (_, i) =>
      batchOf(8 + i * 3, i % 2 ? [`req-${i}`, ''] : [], `M${i}`),
    );
    const clock = new ManualClock(t0);

    const serialDir = await tempDir();
    const serial = await CimPublisher.open({
      outDir: serialDir,
      source: 'n1',
      clock,
      maxReadingsPerMessage: 10,
    });
    const serialHeard: number[] = [];
    serial.subscribe(0, (m) => serialHeard.push(m.position));
    for (const [i, b] of batches.entries()) await serial.publish(b, i + 1);
    expect(serial.commits).toEqual({ batches: 6, commits: 6 });

    const groupedDir = await tempDir();
    const r = recorder();
    // The first commit's directory fsyncs wait until the last batch's files are renamed, so
    // batches 2..6 queue behind it and must be committed together.
    let release = () => {};
    r.gateDirSync = new Promise<void>((resolve) => {
      release = resolve;
    });
    const grouped = await CimPublisher.open({
      outDir: groupedDir,
      source: 'n1',
      clock,
      maxReadingsPerMessage: 10,
      fileOps: r.ops,
    });
    const groupedHeard: number[] = [];
    grouped.subscribe(0, (m) => groupedHeard.push(m.position));
    const resolvedOrder: number[] = [];
    const calls = batches.map((b, i) =>
      grouped.publish(b, i + 1).then((published) => {
        resolvedOrder.push(i + 1);
        return published;
      }),
    );
    const fileCount = [...(await cimTree(serialDir)).keys()].filter((p) => p.endsWith('.xml')).length;
    const watch = setInterval(() => {
      if (r.log.filter((e) => e.startsWith('rename ')).length === fileCount) release();
    }, 5);
    try {
      await Promise.all(calls);
    } finally {
      clearInterval(watch);
    }
    expect(grouped.commits).toEqual({ batches: 6, commits: 2 });
    expect(resolvedOrder).toEqual([1, 2, 3, 4, 5, 6]);
    expect(groupedHeard).toEqual(serialHeard);
    // One directory fsync per noun for the five batches of the second commit, one log write.
    const logPath = join(groupedDir, 'cim', 'batches.log');
    expect(r.log.filter((e) => e === `write ${logPath}`)).toHaveLength(2);
    expect(r.log.filter((e) => e === `sync ${join(groupedDir, 'cim', 'MeterReadings')}`)).toHaveLength(2);

    const serialTree = await cimTree(serialDir);
    const groupedTree = await cimTree(groupedDir);
    expect([...groupedTree.keys()].sort()).toEqual([...serialTree.keys()].sort());
    for (const [path, bytes] of serialTree) expect(groupedTree.get(path)?.equals(bytes), path).toBe(true);
    expect((await readFile(logPath, 'utf8')).split('\n')).toHaveLength(7);
  });
  it('a replay racing its original resolves only once the original is durable, and publishes nothing itself', async () => {
    const outDir = await tempDir();
    const r = recorder();
    let release = () => {};
    r.gateDirSync = new Promise<void>((resolve) => {
      release = resolve;
    });
    const publisher = await CimPublisher.open({
      outDir,
      source: 'n1',
      clock: new ManualClock(t0),
      fileOps: r.ops,
    });
    const settled: string[] = [];
    const original = publisher.publish(batchOf(5, ['req-1'], 'A'), 3).then((m) => {
      settled.push('original');
      return m;
    });
    const replay = publisher.publish(batchOf(5, ['req-1'], 'A'), 3).then((m) => {
      settled.push('replay');
      return m;
    });
    // Both files of the original are in place, its commit is held at the directory fsync.
    while (r.log.filter((e) => e.startsWith('rename ')).length < 2)
      await new Promise((done) => setTimeout(done, 5));
    await new Promise((done) => setTimeout(done, 50));
    expect(settled).toEqual([]);
    release();
    expect((await original).length).toBe(2);
    expect(await replay).toEqual([]);
    expect(settled).toEqual(['original', 'replay']);
    expect(r.log.filter((e) => e.startsWith('rename '))).toHaveLength(2);
    expect(await readFile(join(outDir, 'cim', 'batches.log'), 'utf8')).toBe('3 1 1\n');
  });
});
