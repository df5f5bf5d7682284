import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DailyCsvWriter, type WriterStage } from '../../adapters/csv/daily-writer.js';
import { manifestPath, stagingName } from '../../adapters/csv/writer-manifest.js';
import { distPath } from '../../core/paths.js';
import { batch, collectedAt } from './support/batches.js';
import { allRows, tempDirs } from './support/files.js';

/**
 * Crash safety of DailyCsvWriter with real processes: a child appends with the compiled writer
 * and is killed with SIGKILL (at a chosen stage, or from outside at arbitrary moments); the
 * test then reopens the writer, replays every batch from the start, and checks each row is in
 * the files exactly once and every file holds only whole rows.
 */
const tempDir = tempDirs('mf-csv-crash-');

// The child runs the compiled writer: `npm test` builds first; by hand run `npx tsc -p tsconfig.build.json`.
describe('DailyCsvWriter after a killed process', () => {
  const child = join(import.meta.dirname, 'support', 'crash-child.mjs');
  const batches = 8;
  const rowsPerBatch = 20;
  const maxPartBytes = 4096;

  /** What a reader finds right after the kill, before any recovery: whole rows, each at most once. */
  function checkVisibleAfterKill(dir: string): void {
    const ids = allRows(dir).map((r) => r.serialnumber);
    expect(new Set(ids).size).toBe(ids.length);
  }

  async function replayAndCheck(dir: string, partBytes = maxPartBytes): Promise<void> {
    checkVisibleAfterKill(dir);
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', maxPartBytes: partBytes });
    for (let seq = 1; seq <= batches; seq++)
      await writer.append(batch(seq, rowsPerBatch), { seq, collectedAtMs: collectedAt(seq, batches) });
    await writer.close();
    const ids = allRows(dir).map((r) => r.serialnumber);
    const expected = Array.from({ length: batches }, (_, s) =>
      Array.from({ length: rowsPerBatch }, (_, i) => `M${s + 1}-${i}`),
    ).flat();
    expect(ids).toEqual(expected);
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(false);
    // Day 1 is over (day 2 was written after it): its parts are final, no staging file is left.
    expect(readdirSync(dir).filter((f) => f.startsWith('.S_2026-11-22') && f.endsWith('.staging'))).toEqual(
      [],
    );
  }

  it('has the compiled writer to run (npm run build)', () => {
    expect(existsSync(distPath('adapters', 'csv', 'daily-writer.js'))).toBe(true);
  });

  // 'written': the rows' one writev has returned, nothing is fsynced or committed yet.
  const stages: WriterStage[] = ['written', 'staged', 'committed', 'copied', 'published'];
  for (const stage of stages)
    for (const crashSeq of [1, 4, 5])
      it(`killed at "${stage}" of batch ${crashSeq}: whole rows only, none lost or duplicated after restart`, async () => {
        const dir = tempDir();
        const r = spawnSync(
          process.execPath,
          [child, dir, stage, String(crashSeq), String(batches), String(rowsPerBatch), String(maxPartBytes)],
          {
            encoding: 'utf8',
            timeout: 30_000,
          },
        );
        expect(r.signal).toBe('SIGKILL');
        await replayAndCheck(dir);
      });

  // The production writer encodes in the node's worker pool: a kill then also lands while
  // rows are in a worker, or their bytes on their way back.
  for (const stage of stages)
    it(`with a worker pool encoding, killed at "${stage}" of batch 4: whole rows only, none lost or duplicated`, async () => {
      const dir = tempDir();
      const r = spawnSync(
        process.execPath,
        [child, dir, stage, '4', String(batches), String(rowsPerBatch), String(maxPartBytes), 'workers'],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.signal).toBe('SIGKILL');
      await replayAndCheck(dir);
    });

  // A kill inside the writev itself can leave any prefix of its bytes in the staging file (the
  // kernel stores the vectors in order). Killed after a group's writev of several appends'
  // chunks (4 in flight, worker pool), the staging tail is then cut at points inside that
  // uncommitted range, mid-row included: what a kill mid-writev leaves. Reopening must cut it.
  // Parts large enough that a group's appends go to one part whole: the writev then holds the
  // pool's chunks as they came back (header + one chunk per append), not a re-encoded text.
  const wholeGroupPartBytes = 64 * 1024;
  for (const keepFraction of [0.13, 0.5, 0.91])
    it(`killed mid-writev (worker pool, 4 appends per group; ${keepFraction} of the uncommitted bytes left): whole rows only, none lost or duplicated`, {
      timeout: 120_000,
    }, async () => {
      const dir = tempDir();
      const r = spawnSync(
        process.execPath,
        [
          child,
          dir,
          'written',
          '6',
          String(batches),
          String(rowsPerBatch),
          String(wholeGroupPartBytes),
          'workers',
          '4',
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.signal).toBe('SIGKILL');
      const manifest = JSON.parse(readFileSync(manifestPath(dir, 'S', 'n1'), 'utf8')) as {
        days: Record<string, { file: string; sizeBytes: number; state: string }[]>;
      };
      // The parts the uncommitted write went to: staging files longer than their committed size.
      const committed = new Map(
        Object.values(manifest.days)
          .flat()
          .map((p) => [stagingName(p.file), p.sizeBytes]),
      );
      const torn = readdirSync(dir)
        .filter((f) => f.endsWith('.staging'))
        .map((f) => ({ f, size: statSync(join(dir, f)).size, committedBytes: committed.get(f) ?? 0 }))
        .filter((s) => s.size > s.committedBytes);
      expect(torn.length).toBeGreaterThan(0);
      for (const s of torn)
        truncateSync(
          join(dir, s.f),
          s.committedBytes + Math.floor((s.size - s.committedBytes) * keepFraction),
        );
      await replayAndCheck(dir, wholeGroupPartBytes);
    });

  for (const poolMode of ['inline', 'workers'])
    it(`killed from outside at arbitrary moments, three times over (${poolMode === 'workers' ? 'worker pool encoding' : 'encoding inline'}): every row exactly once`, {
      timeout: 300_000,
    }, async () => {
      await killedFromOutside(poolMode);
    });

  // Group commit: four appends in flight, killed from outside. Every append the child saw
  // resolve (its `ack`) must be on disk, and after a replay every row is there exactly once.
  for (const poolMode of ['inline', 'workers'])
    it(`with 4 appends in flight (group commit), killed from outside three times (${poolMode}): every acknowledged append is on disk, every row exactly once`, {
      timeout: 300_000,
    }, async () => {
      const dir = tempDir();
      const total = 2_000;
      const acked: number[] = [];
      for (const delayMs of [400, 800, 1200]) {
        const out = await killWriterChild(dir, delayMs, { total, poolMode, inFlight: 4 });
        for (const m of out.matchAll(/^ack (\d+)$/gm)) {
          acked.push(Number(m[1]));
        }
        // Reopening recovers; what it reports as durable covers every acknowledged append.
        const reopened = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', maxPartBytes });
        await reopened.close();
        // -1: on a busy machine a kill can land before the first commit (no ack yet).
        const maxAcked = acked.reduce((a, b) => Math.max(a, b), -1);
        expect(reopened.lastSeq).toBeGreaterThanOrEqual(maxAcked);
        const onDisk = new Set(allRows(dir).map((r) => r.serialnumber));
        for (const seq of acked)
          for (let i = 0; i < rowsPerBatch; i++) expect(onDisk.has(`M${seq}-${i}`)).toBe(true);
      }
      // The kills landed while appends were being acknowledged, not all before the first one.
      expect(acked.length).toBeGreaterThan(0);
      const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', maxPartBytes });
      expect(writer.lastSeq).toBeLessThan(total);
      await appendAllAndCheckOnce(writer, dir, total);
    });

  async function killedFromOutside(poolMode: string): Promise<void> {
    const dir = tempDir();
    // Enough batches that an idle machine is still writing when the last kill lands (about
    // 5 ms a batch there); if the child finished first, the lastSeq check below says so.
    const total = 1_000;
    for (const delayMs of [400, 700, 1000]) await killWriterChild(dir, delayMs, { total, poolMode });
    const writer = await DailyCsvWriter.open({ dir, kind: 'S', server: 'n1', maxPartBytes });
    // The kills landed while the child was writing, not before it started or after it finished.
    expect(writer.lastSeq).toBeGreaterThan(0);
    expect(writer.lastSeq).toBeLessThan(total);
    await appendAllAndCheckOnce(writer, dir, total);
  }

  /**
   * Runs the child appending `total` batches (no chosen crash stage; `inFlight` appends at once
   * when given) and kills it `delayMs` after it is ready to write; checks what a reader finds
   * right after; returns the child's stdout.
   */
  async function killWriterChild(
    dir: string,
    delayMs: number,
    run: { total: number; poolMode: string; inFlight?: number },
  ): Promise<string> {
    const p = spawn(process.execPath, [
      child,
      dir,
      'none',
      '0',
      String(run.total),
      String(rowsPerBatch),
      String(maxPartBytes),
      run.poolMode,
      ...(run.inFlight === undefined ? [] : [String(run.inFlight)]),
    ]);
    // Listen before killing: a child that already exited must not leave us waiting forever.
    const exited = new Promise((r) => p.once('exit', r));
    // Count from when the child is ready to write: on a busy machine starting it (and its
    // worker threads) can take longer than all three delays.
    let out = '';
    await new Promise<void>((resolve) => {
      p.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready\n')) resolve();
      });
      void exited.then(() => resolve());
    });
    await new Promise((r) => setTimeout(r, delayMs));
    p.kill('SIGKILL');
    await exited;
    checkVisibleAfterKill(dir);
    return out;
  }

  /**
   * Replays batches 1..total into the reopened writer; then every row is in the files exactly
   * once. Up to 16 appends at a time (in call order, one group commit for those in flight
   * together): what is replayed is checked the same, but not at one fsync'ed commit per batch,
   * which made the replay of hundreds of batches most of these tests' time.
   */
  async function appendAllAndCheckOnce(writer: DailyCsvWriter, dir: string, total: number): Promise<void> {
    const inFlight = 16;
    for (let first = 1; first <= total; first += inFlight) {
      const appends: Promise<unknown>[] = [];
      for (let seq = first; seq < first + inFlight && seq <= total; seq++)
        appends.push(
          writer.append(batch(seq, rowsPerBatch), { seq, collectedAtMs: collectedAt(seq, total) }),
        );
      await Promise.all(appends);
    }
    await writer.close();
    const ids = allRows(dir).map((r) => r.serialnumber);
    expect(ids).toHaveLength(total * rowsPerBatch);
    expect(new Set(ids).size).toBe(ids.length);
  }
});
