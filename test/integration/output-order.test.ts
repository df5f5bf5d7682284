import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CimPublisher, type PublishedMessage } from '../../actors/integration/cim-publisher.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import { type KindAppend, KindLane } from '../../actors/integration/output-order.js';
import { parseCsvFile } from '../../adapters/csv/codec.js';
import { DailyCsvWriter } from '../../adapters/csv/daily-writer.js';
import { loadProfileRows } from '../../adapters/csv/rows.js';
import { ManualClock } from '../../core/clock.js';
import { hourlyReadings } from '../cim/support/hourly-readings.js';

/**
 * Stream positions in flight together reach each output in order and without a gap
 * (actors/integration/output-order.ts): a daily CSV kind merges the positions that arrive while
 * one is written into its next append, and an output that failed a position refuses later ones
 * (MF_OUTPUT_ORDER) until that one is written again, so its replay is never taken for a skip.
 */
const t0 = Date.UTC(2026, 2, 10);
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-output-order-'));
  dirs.push(dir);
  return dir;
}

/** Four rows per position, meters named after it. */
const rowsOf = (position: number) => loadProfileRows(hourlyReadings(4, `M${position}-`, 4, t0));

async function sWriter(dir: string): Promise<DailyCsvWriter> {
  return DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', clock: new ManualClock(t0) });
}

async function serialsIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of (await readdir(dir)).filter((n) => n.endsWith('.csv')).sort())
    out.push(...parseCsvFile('S', await readFile(join(dir, f), 'utf8')).map((r) => String(r.serialnumber)));
  return out;
}

describe('a daily CSV kind with positions in flight together (KindLane)', () => {
  it('merges positions that arrive while one is written into the next append, in order, each resolving with its rows', async () => {
    const dir = await tempDir();
    const writer = await sWriter(dir);
    const appends: number[] = [];
    const append: KindAppend = (rows, options) => {
      appends.push(options.seq);
      return writer.append(rows, options);
    };
    const lane = new KindLane('S', append, () => writer.lastSeq);
    const written = await Promise.all([1, 2, 3, 4].map((p) => lane.write(rowsOf(p), p, t0)));
    expect(written).toEqual([4, 4, 4, 4]);
    // The first alone, the three that queued behind it in one append numbered by the last.
    expect(appends).toEqual([1, 4]);
    await writer.flush();
    expect(await serialsIn(dir)).toEqual(
      [1, 2, 3, 4].flatMap((p) => rowsOf(p).map((r) => String(r.serialnumber))),
    );
    // A replay of any of them is a skip.
    expect(await lane.write(rowsOf(3), 3, t0)).toBe(0);
  });

  it('a failed append refuses every later position until it is written again; then each row is in the file once', async () => {
    const dir = await tempDir();
    const writer = await sWriter(dir);
    let calls = 0;
    // The second append fails as an fsync would (before anything is committed).
    const append: KindAppend = (rows, options) =>
      ++calls === 2
        ? Promise.reject(Object.assign(new Error('EIO: injected'), { code: 'EIO' }))
        : writer.append(rows, options);
    const lane = new KindLane('S', append, () => writer.lastSeq);
    // 2 and 3 are merged (same instant) and fail together; 4 (another instant) is refused.
    const results = await Promise.allSettled([
      lane.write(rowsOf(1), 1, t0),
      lane.write(rowsOf(2), 2, t0),
      lane.write(rowsOf(3), 3, t0),
      lane.write(rowsOf(4), 4, t0 + 1),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/EIO/);
    expect((results[3] as PromiseRejectedResult).reason.code).toBe('MF_OUTPUT_ORDER');
    // A position after the failed one, handed over later, is refused too: written, it would
    // make the replay of 2 a skip (the writer skips seqs at or below its last).
    await expect(lane.write(rowsOf(5), 5, t0)).rejects.toMatchObject({ code: 'MF_OUTPUT_ORDER' });
    expect(writer.lastSeq).toBe(1);
    // The replay from the checkpoint: 2 first, then the rest.
    await Promise.all([2, 3, 4, 5].map((p) => lane.write(rowsOf(p), p, t0)));
    await writer.flush();
    expect(await serialsIn(dir)).toEqual(
      [1, 2, 3, 4, 5].flatMap((p) => rowsOf(p).map((r) => String(r.serialnumber))),
    );
  });
});

describe('the CIM publisher with positions in flight together', () => {
  const batchOf = (tag: string): OutputBatch => ({
    csv: {},
    readings: hourlyReadings(3, tag, 3, t0),
    events: [],
  });

  it('a failed commit fails what was queued behind it and refuses later positions until it is published again; each once, in order', async () => {
    const outDir = await tempDir();
    const { open, rename, mkdir } = await import('node:fs/promises');
    let failLogSync = false;
    const publisher = await CimPublisher.open({
      outDir,
      source: 'n1',
      clock: new ManualClock(t0),
      fileOps: {
        open: async (path, flags) => {
          const fh = await open(path, flags);
          return {
            writeFile: (data) => fh.writeFile(data),
            sync: async () => {
              if (failLogSync && path.endsWith('batches.log')) {
                failLogSync = false;
                throw Object.assign(new Error('EIO: injected log fsync failure'), { code: 'EIO' });
              }
              await fh.sync();
            },
            stat: () => fh.stat(),
            truncate: (n) => fh.truncate(n),
            close: () => fh.close(),
          };
        },
        rename: (a, b) => rename(a, b),
        mkdir: async (p) => {
          await mkdir(p, { recursive: true });
        },
      },
    });
    const heard: PublishedMessage[] = [];
    publisher.subscribe(0, (m) => heard.push(m));
    await publisher.publish(batchOf('A'), 1);
    failLogSync = true;
    const results = await Promise.allSettled([2, 3, 4].map((p) => publisher.publish(batchOf(`B${p}`), p)));
    expect(results[0]!.status).toBe('rejected');
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    await expect(publisher.publish(batchOf('C'), 5)).rejects.toMatchObject({ code: 'MF_OUTPUT_ORDER' });
    expect(heard.map((m) => Math.floor(m.position / 2 ** 20))).toEqual([1]);
    // The replay from the checkpoint publishes each once, in order.
    await Promise.all([2, 3, 4, 5].map((p) => publisher.publish(batchOf(`R${p}`), p)));
    expect(heard.map((m) => Math.floor(m.position / 2 ** 20))).toEqual([1, 2, 3, 4, 5]);
    const log = await readFile(join(outDir, 'cim', 'batches.log'), 'utf8');
    expect(
      log
        .trim()
        .split('\n')
        .map((line) => Number(line.split(/\s/)[0])),
    ).toEqual([1, 2, 3, 4, 5]);
  });
});
