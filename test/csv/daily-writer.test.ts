import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsvFile } from '../../adapters/csv/codec.js';
import { DailyCsvWriter } from '../../adapters/csv/daily-writer.js';
import { csvDir, writeReport } from '../../adapters/csv/reports.js';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { ManualClock } from '../../core/clock.js';
import { batch, DAY1_MS, DAY2_MS } from './support/batches.js';
import { allRows, tempDirs } from './support/files.js';

const tempDir = tempDirs('mf-csv-');

describe('DailyCsvWriter', () => {
  it('names files by kind, collection day and server, and rolls numbered parts at the size limit', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', maxPartBytes: 1024 });
    for (let seq = 1; seq <= 6; seq++) await writer.append(batch(seq, 5), { seq, collectedAtMs: DAY1_MS });
    await writer.close();
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.csv'))
      .sort();
    expect(files[0]).toBe('S_2026-11-22_n1.csv');
    expect(files.length).toBeGreaterThan(1);
    expect(files.slice(1).every((f) => /^S_2026-11-22_n1\.part\d+\.csv$/.test(f))).toBe(true);
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024);
      expect(text.startsWith('serialnumber;pod;value;state;cimcode;sampledate\n')).toBe(true);
    }
    expect(allRows(dir).map((r) => r.serialnumber)).toEqual(
      Array.from({ length: 6 }, (_, s) => Array.from({ length: 5 }, (_, i) => `M${s + 1}-${i}`)).flat(),
    );
  });

  it('puts data recovered for earlier days into the file of the day it was collected', async () => {
    const dir = tempDir();
    const clock = new ManualClock(DAY2_MS);
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', clock });
    // Sample dates lie on DAY1 and before, but the data is collected on DAY2.
    await writer.append(batch(1, 3), { seq: 1 });
    await writer.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.csv'))).toEqual(['S_2026-11-23_n1.csv']);
    const rows = parseCsvFile('S', readFileSync(join(dir, 'S_2026-11-23_n1.csv'), 'utf8'));
    expect(rows[0]!.sampledate).toBe('2026-11-22 12:00:00.000');
    expect(rows[0]!.pod).toBe('POD;1');
  });

  it('encodes through the worker pool when given one, with the same files as inline', async () => {
    const [a, b] = [tempDir(), tempDir()];
    const pool = new WorkerPool({ mode: 'inline', threads: 1 });
    const pooled = await DailyCsvWriter.open({
      dir: a,
      kind: 'S',
      server: 'n1',
      pool,
      poolMinRows: 1,
      maxPartBytes: 2048,
    });
    const plain = await DailyCsvWriter.open({ dir: b, kind: 'S', server: 'n1', maxPartBytes: 2048 });
    for (let seq = 1; seq <= 5; seq++) {
      await pooled.append(batch(seq, 7), { seq, collectedAtMs: DAY1_MS });
      await plain.append(batch(seq, 7), { seq, collectedAtMs: DAY1_MS });
    }
    await pooled.close();
    await plain.close();
    expect(pool.completed).toBe(5);
    const files = readdirSync(b)
      .filter((f) => f.endsWith('.csv'))
      .sort();
    expect(
      readdirSync(a)
        .filter((f) => f.endsWith('.csv'))
        .sort(),
    ).toEqual(files);
    for (const f of files) expect(readFileSync(join(a, f), 'utf8')).toBe(readFileSync(join(b, f), 'utf8'));
    await pool.close();
  });

  it('encodes through a real worker pool in chunks (one per thread), the files byte for byte as inline, parts included', async () => {
    const [a, b] = [tempDir(), tempDir()];
    const pool = new WorkerPool({ mode: 'workers', threads: 2 });
    try {
      const pooled = await DailyCsvWriter.open({
        dir: a,
        kind: 'S',
        server: 'n1',
        pool,
        maxPartBytes: 1_000_000,
      });
      const plain = await DailyCsvWriter.open({ dir: b, kind: 'S', server: 'n1', maxPartBytes: 1_000_000 });
      for (let seq = 1; seq <= 3; seq++) {
        await pooled.append(batch(seq, 5000), { seq, collectedAtMs: DAY1_MS });
        await plain.append(batch(seq, 5000), { seq, collectedAtMs: DAY1_MS });
      }
      await pooled.close();
      await plain.close();
      // 5000 rows: two chunks each, one per worker.
      expect(pool.completed).toBe(6);
      const files = readdirSync(b)
        .filter((f) => f.endsWith('.csv'))
        .sort();
      expect(files.length).toBeGreaterThan(1);
      expect(
        readdirSync(a)
          .filter((f) => f.endsWith('.csv'))
          .sort(),
      ).toEqual(files);
      for (const f of files) expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f)))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('encodes a batch below poolMinRows inline (the hand-off would cost more), and refuses a bad poolMinRows', async () => {
    const pool = new WorkerPool({ mode: 'inline', threads: 2 });
    try {
      const writer = await DailyCsvWriter.open({
        dir: tempDir(),
        kind: 'S',
        server: 'n1',
        pool,
        poolMinRows: 10,
      });
      await writer.append(batch(1, 9), { seq: 1, collectedAtMs: DAY1_MS });
      expect(pool.completed).toBe(0);
      await writer.append(batch(2, 10), { seq: 2, collectedAtMs: DAY1_MS });
      expect(pool.completed).toBe(1);
      await writer.close();
      await expect(
        DailyCsvWriter.open({ dir: tempDir(), kind: 'S', server: 'n1', pool, poolMinRows: -1 }),
      ).rejects.toMatchObject({ code: 'MF_CSV_STATE' });
    } finally {
      await pool.close();
    }
  });

  it('skips a batch whose seq it has already written (replay after restart)', async () => {
    const dir = tempDir();
    let writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    await writer.append(batch(1, 2), { seq: 1, collectedAtMs: DAY1_MS });
    await writer.append(batch(2, 2), { seq: 2, collectedAtMs: DAY1_MS });
    writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    expect(writer.lastSeq).toBe(2);
    expect((await writer.append(batch(2, 2), { seq: 2, collectedAtMs: DAY1_MS })).skipped).toBe(true);
    await writer.append(batch(3, 2), { seq: 3, collectedAtMs: DAY1_MS });
    await writer.close();
    expect(allRows(dir)).toHaveLength(6);
  });

  it('a bad row fails the whole batch with MF_CSV_ROW and writes nothing', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    await writer.append(batch(1, 2), { seq: 1, collectedAtMs: DAY1_MS });
    await writer.flush();
    const before = readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8');
    const bad = [...batch(2, 2), { ...batch(2, 1)[0]!, value: Number.POSITIVE_INFINITY }];
    await expect(writer.append(bad, { seq: 2, collectedAtMs: DAY1_MS })).rejects.toMatchObject({
      code: 'MF_CSV_ROW',
    });
    await writer.flush();
    expect(readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8')).toBe(before);
    expect(writer.lastSeq).toBe(1);
    await expect(writer.append(batch(2, 1), { seq: -1 })).rejects.toMatchObject({ code: 'MF_CSV_STATE' });
    const bounded = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n2', maxBatchRows: 3 });
    await expect(bounded.append(batch(3, 4), { seq: 3 })).rejects.toThrow(/over the 3-row limit/);
    expect(bounded.lastSeq).toBe(-1);
  });

  it('an append interrupted after only some of its parts were staged is rolled back on open, then replays once', async () => {
    const dir = tempDir();
    const options = { dir, kind: 'S' as const, server: 'n1', maxPartBytes: 600, publishCopyRatio: Infinity };
    const crashing = await DailyCsvWriter.open({
      ...options,
      faultHook: (stage, seq) => {
        if (stage === 'staged' && seq === 2) throw new Error('simulated crash');
      },
    });
    await crashing.append(batch(1, 2), { seq: 1, collectedAtMs: DAY1_MS });
    // Batch 2 needs several parts: the "crash" comes after the first one was staged.
    await expect(crashing.append(batch(2, 12), { seq: 2, collectedAtMs: DAY1_MS })).rejects.toThrow(
      'simulated crash',
    );
    // Nothing of batch 2 is visible: staged rows are published only after the commit.
    expect(allRows(dir).map((r) => r.serialnumber)).toEqual(['M1-0', 'M1-1']);
    const writer = await DailyCsvWriter.open(options);
    expect(writer.lastSeq).toBe(1);
    expect(allRows(dir).map((r) => r.serialnumber)).toEqual(['M1-0', 'M1-1']);
    await writer.append(batch(2, 12), { seq: 2, collectedAtMs: DAY1_MS });
    await writer.close();
    expect(allRows(dir)).toHaveLength(14);
    expect(writer.partsOf('2026-11-22').length).toBeGreaterThan(1);
  });

  it('never overwrites a file of a day it no longer tracks (older than manifestDays)', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', manifestDays: 1 });
    await writer.append(batch(1, 2), { seq: 1, collectedAtMs: DAY1_MS });
    await writer.append(batch(2, 2), { seq: 2, collectedAtMs: DAY2_MS });
    // Day 1 was finished when day 2 began; the next append drops it from the manifest.
    await writer.append(batch(3, 2), { seq: 3, collectedAtMs: DAY2_MS });
    const day1 = readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8');
    await expect(writer.append(batch(4, 2), { seq: 4, collectedAtMs: DAY1_MS })).rejects.toMatchObject({
      code: 'MF_CSV_STATE',
    });
    expect(readFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'utf8')).toBe(day1);
    expect(writer.lastSeq).toBe(3);
  });

  it('refuses to continue when a file it wrote was changed behind its back', async () => {
    const dir = tempDir();
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' });
    await writer.append(batch(1, 2), { seq: 1, collectedAtMs: DAY1_MS });
    writeFileSync(join(dir, 'S_2026-11-22_n1.csv'), 'garbage\n', { flag: 'a' });
    await expect(DailyCsvWriter.open({ dir, kind: 'S', server: 'n1' })).rejects.toMatchObject({
      code: 'MF_CSV_STATE',
    });
  });

  it('a concurrent reader only ever sees whole rows', async () => {
    const dir = tempDir();
    // publishCopyRatio Infinity: every append is published (by copy + rename) as it commits.
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', publishCopyRatio: Infinity });
    const file = join(dir, 'S_2026-11-22_n1.csv');
    let done = false;
    let snapshots = 0;
    const reader = (async () => {
      while (!done) {
        if (existsSync(file)) {
          const text = readFileSync(file, 'utf8');
          expect(text.endsWith('\n')).toBe(true);
          expect(parseCsvFile('S', text).length % 50).toBe(0);
          snapshots++;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    for (let seq = 1; seq <= 12; seq++) await writer.append(batch(seq, 50), { seq, collectedAtMs: DAY1_MS });
    await writer.close();
    done = true;
    await reader;
    expect(snapshots).toBeGreaterThan(0);
  });

  it('writes extraction reports atomically under <out>/<org>/<folder>/<Report>_yyyy-mm-dd.csv', async () => {
    const out = tempDir();
    const dir = csvDir(out, 'IT', 'MeterReport');
    const path = await writeReport(
      dir,
      'MeterReport',
      [
        {
          mertytype: 'MONO',
          serialnumber: 'M1',
          serialnumberboard: 'B1',
          macaddress: '00:11',
          firmwareid: 'f',
          hardwareid: 'h',
          insertdateutc: DAY1_MS,
          lastupdateutc: null,
        },
      ],
      DAY1_MS,
    );
    expect(path).toBe(join(out, 'IT', 'extraction', 'MeterReport_2026-11-22.csv'));
    expect(readFileSync(path, 'utf8')).toBe(
      'mertytype;serialnumber;serialnumberboard;macaddress;firmwareid;hardwareid;insertdateutc;lastupdateutc\nMONO;M1;B1;00:11;f;h;2026-11-22 12:00:00.000;\n',
    );
  });
});
