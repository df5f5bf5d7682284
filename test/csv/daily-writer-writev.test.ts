import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeAtAndSync } from '../../adapters/csv/atomic-file.js';
import type { CsvRow } from '../../adapters/csv/codec.js';
import { type CsvEncodePool, DailyCsvWriter } from '../../adapters/csv/daily-writer.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { batch, DAY1_MS, DAY2_MS } from './support/batches.js';
import { allRows, tempDirs, visibleFiles } from './support/files.js';

/**
 * The writer hands the pool's byte chunks to the file in one vectored write (never joined on
 * the caller's thread), and with a pool starts encoding a queued append while the commit in
 * flight writes and fsyncs (encoding ahead). The files stay the same bytes as inline encoding.
 */
const tempDir = tempDirs('mf-csv-writev-');
const pool = new WorkerPool({ mode: 'inline' });
afterAll(() => pool.close());

/** The pool as the writer sees it, counting the encodes it was asked for (each a list of rows). */
function countingPool(): { pool: CsvEncodePool; encodes: number[] } {
  const encodes: number[] = [];
  return {
    encodes,
    pool: {
      threads: pool.threads,
      runPipelined: ((count, task, options) => {
        encodes.push(count);
        return pool.runPipelined(count, task, options);
      }) as CsvEncodePool['runPipelined'],
    },
  };
}

describe('writeAtAndSync with a list of chunks (one writev)', () => {
  it('writes the chunks in order at the offset, skips empty ones, and cuts the old tail', async () => {
    const path = join(tempDir(), 'f');
    writeFileSync(path, 'head;XXXXXXXXXXXXXXXXXXXXXXXX');
    const chunks = [Buffer.from('a;1\n'), new Uint8Array(0), Buffer.from('b;2\n'), Buffer.from('c;é\n')];
    const end = await writeAtAndSync(path, 5, chunks, false);
    expect(readFileSync(path, 'utf8')).toBe('head;a;1\nb;2\nc;é\n');
    expect(end).toBe(5 + 4 + 4 + 5);
  });

  it('more chunks than one writev takes (IOV_MAX 1024) are all written, in order', async () => {
    const path = join(tempDir(), 'f');
    const lines = Array.from({ length: 2500 }, (_, i) => `${i};${'x'.repeat(i % 7)}\n`);
    const end = await writeAtAndSync(
      path,
      0,
      lines.map((l) => Buffer.from(l)),
      true,
    );
    expect(readFileSync(path, 'utf8')).toBe(lines.join(''));
    expect(end).toBe(Buffer.byteLength(lines.join('')));
  });
});

describe('DailyCsvWriter with the pool: chunks written as they came back', () => {
  it('a batch split over several pool chunks gives the same files byte for byte as inline encoding, across parts and days', async () => {
    const inlineDir = tempDir();
    const pooledDir = tempDir();
    const inline = await DailyCsvWriter.open({
      dir: inlineDir,
      kind: 'S',
      server: 'n1',
      maxPartBytes: 64 * 1024,
    });
    const pooled = await DailyCsvWriter.open({
      dir: pooledDir,
      kind: 'S',
      server: 'n1',
      maxPartBytes: 64 * 1024,
      pool,
      poolMinRows: 1,
    });
    // 4,500 rows: more than one pool task (2,000-row minimum per task), so several chunks.
    const batches: [number, CsvRow[], number][] = [
      [1, batch(1, 4500), DAY1_MS],
      [2, batch(2, 30), DAY1_MS],
      [3, batch(3, 4500), DAY2_MS],
    ];
    for (const [seq, rows, at] of batches) {
      await inline.append(rows, { seq, collectedAtMs: at });
      await pooled.append(rows, { seq, collectedAtMs: at });
    }
    await inline.close();
    await pooled.close();
    expect(visibleFiles(pooledDir)).toEqual(visibleFiles(inlineDir));
    expect(visibleFiles(pooledDir).size).toBeGreaterThan(2);
    expect(pooled.stats.stagedBytes).toBe(inline.stats.stagedBytes);
    expect(allRows(pooledDir)).toHaveLength(4500 + 30 + 4500);
  });
});

describe('DailyCsvWriter encoding ahead', () => {
  it("an append queued while a commit is writing is already in the pool before that commit's fsync finishes", async () => {
    const counting = countingPool();
    let encodesAtFirstCommit = -1;
    let second: Promise<unknown> | undefined;
    const writer = await DailyCsvWriter.open({
      dir: tempDir(),
      kind: 'S',
      server: 'n1',
      pool: counting.pool,
      poolMinRows: 1,
      faultHook: (stage, seq) => {
        // Seq 1's rows are written, not yet fsynced: seq 2 arrives now.
        if (stage === 'written' && seq === 1 && !second)
          second = writer.append(batch(2, 40), { seq: 2, collectedAtMs: DAY1_MS });
        if (stage === 'committed' && seq === 1) encodesAtFirstCommit = counting.encodes.length;
      },
    });
    await writer.append(batch(1, 40), { seq: 1, collectedAtMs: DAY1_MS });
    await second;
    await writer.close();
    // Without encoding ahead seq 2 would be encoded only once seq 1's group is done (count 1).
    expect(encodesAtFirstCommit).toBe(2);
    expect(counting.encodes).toHaveLength(2);
    expect(writer.queue).toMatchObject({ appends: 2, groups: 2 });
  });

  it('an append encoded ahead that turns out invalid or already written changes nothing: rejected or skipped alone', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', pool, poolMinRows: 1 });
    // A column S_ does not have, in its third row: the codec refuses the whole batch.
    const bad: CsvRow[] = batch(3, 5).map((r, i) => (i === 2 ? { ...r, t1: 5 } : r));
    const results = await Promise.allSettled([
      writer.append(batch(1, 5), { seq: 1, collectedAtMs: DAY1_MS }),
      writer.append(batch(1, 5), { seq: 1, collectedAtMs: DAY1_MS }),
      writer.append(bad, { seq: 3, collectedAtMs: DAY1_MS }),
      writer.append(batch(4, 5), { seq: 4, collectedAtMs: DAY1_MS }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(results[1]).toMatchObject({ value: { skipped: true } });
    await writer.close();
    expect(allRows(dir).map((r) => r.serialnumber)).toEqual([
      ...batch(1, 5).map((r) => r.serialnumber),
      ...batch(4, 5).map((r) => r.serialnumber),
    ]);
  });
});
