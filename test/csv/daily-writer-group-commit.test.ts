import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CsvRow } from '../../adapters/csv/codec.js';
import { DailyCsvWriter, type DailyCsvWriterOptions } from '../../adapters/csv/daily-writer.js';
import { manifestPath, stagingName } from '../../adapters/csv/writer-manifest.js';
import { batch, DAY1_MS, DAY2_MS } from './support/batches.js';
import { allRows, tempDirs, visibleFiles } from './support/files.js';

/**
 * Group commit: appends that arrive while a commit is in flight are committed together, each
 * resolving only once the commit covering it is on disk; the files are the same bytes as
 * appending one by one; the queue is bounded (maxQueuedRows) and a group too (maxGroupRows).
 */
const tempDir = tempDirs('mf-csv-group-');

type Options = Omit<DailyCsvWriterOptions, 'dir' | 'kind' | 'server'>;
const open = (dir: string, options: Options = {}) =>
  DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', ...options });

function manifestOnDisk(dir: string): {
  lastSeq: number;
  days: Record<string, { file: string; sizeBytes: number }[]>;
} {
  return JSON.parse(readFileSync(manifestPath(dir, 'S', 'n1'), 'utf8'));
}

const collectedAt = (seq: number) => (seq <= 6 ? DAY1_MS : DAY2_MS);

describe('DailyCsvWriter group commit', () => {
  it('appends in flight together are committed in fewer commits, with the same files byte for byte as one by one', async () => {
    const [serialDir, groupedDir] = [tempDir(), tempDir()];
    // Small parts and a day change inside the run: grouped appends roll parts and days too.
    const options = { maxPartBytes: 900 };
    const serial = await open(serialDir, options);
    for (let seq = 1; seq <= 12; seq++)
      await serial.append(batch(seq, 7), { seq, collectedAtMs: collectedAt(seq) });
    await serial.close();
    const grouped = await open(groupedDir, options);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        grouped.append(batch(i + 1, 7), { seq: i + 1, collectedAtMs: collectedAt(i + 1) }),
      ),
    );
    await grouped.close();
    expect(results.every((r) => !r.skipped && r.rows === 7)).toBe(true);
    expect(grouped.queue.appends).toBe(12);
    expect(grouped.queue.groups).toBeLessThan(12);
    expect(grouped.lastSeq).toBe(12);
    const expected = visibleFiles(serialDir);
    expect([...expected.keys()].length).toBeGreaterThan(3);
    expect(visibleFiles(groupedDir)).toEqual(expected);
    expect(manifestOnDisk(groupedDir).days).toEqual(manifestOnDisk(serialDir).days);
  });

  it('resolves each append only once its rows and the manifest naming them are on disk', async () => {
    const dir = tempDir();
    const writer = await open(dir);
    const checks: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        writer.append(batch(i + 1, 5), { seq: i + 1, collectedAtMs: DAY1_MS }).then(() => {
          // Read from disk the moment the promise resolves: the committed manifest covers this
          // seq, and the staging file holds at least the committed bytes.
          const manifest = manifestOnDisk(dir);
          expect(manifest.lastSeq).toBeGreaterThanOrEqual(i + 1);
          for (const part of manifest.days['2026-11-22'] ?? []) {
            const staged = join(dir, stagingName(part.file));
            expect(statSync(staged).size).toBeGreaterThanOrEqual(part.sizeBytes);
          }
          checks.push(i + 1);
        }),
      ),
    );
    // In call order, and grouped (the first commit was in flight while the rest arrived).
    expect(checks).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(writer.queue.groups).toBeLessThan(10);
    await writer.close();
    expect(allRows(dir)).toHaveLength(50);
  });

  it('holds appends beyond maxQueuedRows back, in call order, and lets a single larger one through alone', async () => {
    const dir = tempDir();
    let maxSeenAtCommit = 0;
    const writer: DailyCsvWriter = await open(dir, {
      maxQueuedRows: 100,
      faultHook: (stage) => {
        if (stage === 'staged') maxSeenAtCommit = Math.max(maxSeenAtCommit, writer.queue.rows);
      },
    });
    const order: number[] = [];
    const appends = Array.from({ length: 10 }, (_, i) =>
      writer.append(batch(i + 1, 40), { seq: i + 1, collectedAtMs: DAY1_MS }).then(() => order.push(i + 1)),
    );
    // Ten appends of 40 rows were handed in at once; at most two fit under the bound.
    expect(writer.queue.rows).toBe(80);
    appends.push(
      writer.append(batch(11, 150), { seq: 11, collectedAtMs: DAY1_MS }).then(() => order.push(11)),
    );
    await Promise.all(appends);
    expect(writer.queue.maxRows).toBe(150);
    expect(maxSeenAtCommit).toBeLessThanOrEqual(150);
    expect(writer.queue.rows).toBe(0);
    expect(order).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    await writer.close();
    expect(allRows(dir)).toHaveLength(10 * 40 + 150);
  });

  it('takes at most maxGroupRows rows into one commit', async () => {
    const dir = tempDir();
    const writer = await open(dir, { maxGroupRows: 50 });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        writer.append(batch(i + 1, 20), { seq: i + 1, collectedAtMs: DAY1_MS }),
      ),
    );
    // All ten were queued before the first commit ran: groups of two (40 rows; a third would be 60).
    expect(writer.queue.groups).toBe(5);
    await writer.close();
    expect(allRows(dir)).toHaveLength(200);
  });

  it('rejects a bad append of a group alone: the others are written, the bad one leaves nothing', async () => {
    const dir = tempDir();
    const writer = await open(dir);
    const bad: CsvRow[] = [{ ...batch(3, 1)[0], t1: 5 }];
    const outcomes = await Promise.allSettled([
      writer.append(batch(1, 3), { seq: 1, collectedAtMs: DAY1_MS }),
      writer.append(batch(2, 3), { seq: 2, collectedAtMs: DAY1_MS }),
      writer.append(bad, { seq: 3, collectedAtMs: DAY1_MS }),
      writer.append(batch(4, 3), { seq: 4, collectedAtMs: DAY1_MS }),
      writer.append(batch(2, 3), { seq: 2, collectedAtMs: DAY1_MS }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'MF_CSV_ROW' });
    // The repeated seq 2 is a replay: skipped, not written twice.
    expect((outcomes[4] as PromiseFulfilledResult<{ skipped: boolean }>).value.skipped).toBe(true);
    await writer.close();
    expect(writer.lastSeq).toBe(4);
    expect(allRows(dir).map((r) => r.serialnumber)).toEqual([
      'M1-0',
      'M1-1',
      'M1-2',
      'M2-0',
      'M2-1',
      'M2-2',
      'M4-0',
      'M4-1',
      'M4-2',
    ]);
  });
});
