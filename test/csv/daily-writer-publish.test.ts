import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DailyCsvWriter } from '../../adapters/csv/daily-writer.js';
import { batch, DAY1_MS, DAY2_MS } from './support/batches.js';
import { allRows, tempDirs } from './support/files.js';

/**
 * The cost and visibility promises of the staging + publish design (adapters/csv/README.md,
 * "Durability"): appends write their own bytes only; visible files are replaced whole, by a
 * rename when a part or day is finished, by coalesced copies in between.
 */
const tempDir = tempDirs('mf-csv-publish-');
const stagingFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.staging'));

describe('DailyCsvWriter publishing', () => {
  it('an append stages exactly its own bytes, and coalesced copies stay within publishCopyRatio x the bytes appended', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', publishCopyRatio: 4 });
    const staging = join(dir, '.S_2026-11-22_n1.csv.staging');
    let previous = 0;
    for (let seq = 1; seq <= 100; seq++) {
      const before = writer.stats.stagedBytes;
      await writer.append(batch(seq, 10), { seq, collectedAtMs: DAY1_MS });
      const size = statSync(staging).size;
      // The staging file grew by what the append staged, nothing was rewritten.
      expect(size - previous).toBe(writer.stats.stagedBytes - before);
      previous = size;
    }
    const { stagedBytes, copies, copiedBytes } = writer.stats;
    expect(stagedBytes).toBe(previous);
    expect(copiedBytes).toBeLessThanOrEqual(4 * stagedBytes);
    // Copy-on-every-append would be 100 copies of a growing file (~50x the bytes here).
    expect(copies).toBeLessThan(40);
    // Between publishes the visible file lags, but only by whole batches of committed rows.
    const visible = allRows(dir);
    expect(visible.length % 10).toBe(0);
    expect(visible.length).toBeGreaterThan(0);
    await writer.flush();
    expect(writer.unpublishedBytes).toBe(0);
    expect(allRows(dir)).toHaveLength(1000);
    expect(readFileSync(join(dir, 'S_2026-11-22_n1.csv'))).toEqual(readFileSync(staging));
    await writer.close();
  });

  it('with the default coalescing and parts rolling, every version a reader sees is whole rows and a prefix of the final file', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', maxPartBytes: 8192 });
    const seen: { file: string; text: string }[] = [];
    let done = false;
    const reader = (async () => {
      while (!done) {
        for (const file of readdirSync(dir).filter((f) => f.endsWith('.csv'))) {
          let text: string;
          try {
            text = readFileSync(join(dir, file), 'utf8');
          } catch {
            continue; // listed, then replaced: the next round reads the new version
          }
          expect(text.endsWith('\n')).toBe(true);
          seen.push({ file, text });
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    for (let seq = 1; seq <= 40; seq++) await writer.append(batch(seq, 7), { seq, collectedAtMs: DAY1_MS });
    await writer.close();
    done = true;
    await reader;
    expect(seen.length).toBeGreaterThan(10);
    expect(writer.partsOf('2026-11-22').length).toBeGreaterThan(2);
    for (const { file, text } of seen)
      expect(readFileSync(join(dir, file), 'utf8').startsWith(text)).toBe(true);
    expect(allRows(dir)).toHaveLength(280);
  });

  it('rows appended but not yet published become visible within maxPublishLagMs without a flush', async () => {
    const dir = tempDir();
    // Ratio 0: never published by the copy rule, only by the lag timer.
    const writer = await DailyCsvWriter.open({
      dir,
      kind: 'S',
      server: 'n1',
      publishCopyRatio: 0,
      maxPublishLagMs: 50,
    });
    await writer.append(batch(1, 3), { seq: 1, collectedAtMs: DAY1_MS });
    expect(readdirSync(dir).filter((f) => f.endsWith('.csv'))).toEqual([]);
    const deadline = Date.now() + 20_000;
    while (writer.unpublishedBytes > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(allRows(dir).map((r) => r.serialnumber)).toEqual(['M1-0', 'M1-1', 'M1-2']);
    await writer.close();
  });

  it('a full part, and the last part of a day once the next day begins, are published by renaming their staging file', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({
      dir,
      kind: 'S',
      server: 'n1',
      maxPartBytes: 1024,
      publishCopyRatio: 0,
    });
    for (let seq = 1; seq <= 6; seq++) await writer.append(batch(seq, 5), { seq, collectedAtMs: DAY1_MS });
    const day1Parts = writer.partsOf('2026-11-22').length;
    expect(day1Parts).toBeGreaterThan(1);
    // Every part but the open last one is visible, by rename; only the open one is staged.
    expect(writer.stats.renames).toBe(day1Parts - 1);
    expect(stagingFiles(dir)).toHaveLength(1);
    await writer.append(batch(7, 5), { seq: 7, collectedAtMs: DAY2_MS });
    expect(writer.stats.renames).toBe(day1Parts);
    expect(writer.stats.copies).toBe(0);
    expect(stagingFiles(dir)).toEqual(['.S_2026-11-23_n1.csv.staging']);
    expect(allRows(dir)).toHaveLength(30);
    await writer.close();
    expect(allRows(dir)).toHaveLength(35);
  });

  it('a torn staging tail left by a crash mid-append is cut on open: committed rows intact, the replayed batch written once', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    await writer.append(batch(1, 4), { seq: 1, collectedAtMs: DAY1_MS });
    await writer.close();
    const staging = join(dir, '.S_2026-11-22_n1.csv.staging');
    const committed = statSync(staging).size;
    // What a process killed inside write() leaves: part of the next batch, no commit.
    appendFileSync(staging, 'M2-0;POD;2000;0;0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0;2026-11-22 1');
    const reopened = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    expect(statSync(staging).size).toBe(committed);
    expect(reopened.lastSeq).toBe(1);
    await reopened.append(batch(2, 4), { seq: 2, collectedAtMs: DAY1_MS });
    await reopened.close();
    expect(allRows(dir).map((r) => r.serialnumber)).toEqual([
      'M1-0',
      'M1-1',
      'M1-2',
      'M1-3',
      'M2-0',
      'M2-1',
      'M2-2',
      'M2-3',
    ]);
  });

  it('a staging file shorter than what was committed stops the writer with MF_CSV_STATE and changes nothing', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    await writer.append(batch(1, 4), { seq: 1, collectedAtMs: DAY1_MS });
    await writer.close();
    const staging = join(dir, '.S_2026-11-22_n1.csv.staging');
    const visibleBefore = readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8');
    writeFileSync(staging, 'serialnumber;pod;value;state;cimcode;sampledate\n');
    await expect(DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' })).rejects.toMatchObject({
      code: 'MF_CSV_STATE',
      message: expect.stringMatching(/were committed/),
    });
    expect(readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8')).toBe(visibleBefore);
  });

  it('a corrupt manifest is refused with MF_CSV_STATE naming the file, and no CSV file is touched', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    await writer.append(batch(1, 2), { seq: 1, collectedAtMs: DAY1_MS });
    await writer.close();
    const visibleBefore = readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8');
    writeFileSync(join(dir, '.S_n1.manifest.json'), '{"version": 2, "kind"');
    await expect(DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' })).rejects.toMatchObject({
      code: 'MF_CSV_STATE',
      message: expect.stringMatching(/\.S_n1\.manifest\.json is not valid JSON/),
    });
    expect(readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8')).toBe(visibleBefore);
    expect(stagingFiles(dir)).toEqual(['.S_2026-11-22_n1.csv.staging']);
  });

  it('refuses limits that cannot work with MF_CSV_STATE naming the option, before touching the folder', async () => {
    const dir = join(tempDir(), 'never-created');
    for (const bad of [
      { maxPartBytes: 10 },
      { maxBatchRows: 0 },
      { manifestDays: 0 },
      { publishCopyRatio: -1 },
      { publishCopyRatio: Number.NaN },
      { maxPublishLagMs: 0 },
      { maxPublishLagMs: Number.POSITIVE_INFINITY },
    ])
      await expect(DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', ...bad })).rejects.toMatchObject({
        code: 'MF_CSV_STATE',
        message: expect.stringContaining(Object.keys(bad)[0]!),
      });
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  });

  it('takes over the folder of the previous (copy-per-append) writer: its files stay as they are, new rows go to a new part', async () => {
    const dir = tempDir();
    const header = 'serialnumber;pod;value;state;cimcode;sampledate\n';
    const old = `${header}OLD;P;1;0;c;2026-11-22 00:00:00.000\n`;
    writeFileSync(join(dir, 'S_2026-11-22_n1.csv'), old);
    writeFileSync(
      join(dir, '.S_n1.manifest.json'),
      JSON.stringify({
        version: 1,
        kind: 'S',
        server: 'n1',
        lastSeq: 7,
        days: { '2026-11-22': [{ file: 'S_2026-11-22_n1.csv', sizeBytes: Buffer.byteLength(old), rows: 1 }] },
      }),
    );
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    expect(writer.lastSeq).toBe(7);
    expect((await writer.append(batch(7, 1), { seq: 7, collectedAtMs: DAY1_MS })).skipped).toBe(true);
    await writer.append(batch(8, 2), { seq: 8, collectedAtMs: DAY1_MS });
    await writer.close();
    expect(readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8')).toBe(old);
    expect(allRows(dir).map((r) => r.serialnumber)).toEqual(['OLD', 'M8-0', 'M8-1']);
    expect(writer.partsOf('2026-11-22').map((f) => f.slice(dir.length + 1))).toEqual([
      'S_2026-11-22_n1.csv',
      'S_2026-11-22_n1.part2.csv',
    ]);
  });

  it("another server's writer in the same folder keeps its own files and leftovers", async () => {
    const dir = tempDir();
    const a = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    const b = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n10' });
    await a.append(batch(1, 2), { seq: 1, collectedAtMs: DAY1_MS });
    await b.append(batch(1, 3), { seq: 1, collectedAtMs: DAY1_MS });
    writeFileSync(join(dir, 'S_2026-11-22_n10.csv.tmp'), 'in flight');
    await a.close();
    // Reopening n1 must not clean up n10's temp file (it may be mid-publish).
    await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    expect(readdirSync(dir)).toContain('S_2026-11-22_n10.csv.tmp');
    await b.close();
  });
});
