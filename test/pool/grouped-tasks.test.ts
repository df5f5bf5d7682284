import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMeterReadingsInPool, type MeterReadingsMessageJob } from '../../adapters/cim/columnar-pool.js';
import { encodeMeterReadings } from '../../adapters/cim/meter-readings.js';
import { encodeCsvRows } from '../../adapters/csv/codec.js';
import { csvChunkRows, encodeCsvRowsInPool } from '../../adapters/csv/columnar-pool.js';
import { type PoolMode, WorkerPool } from '../../cluster/pool/pool.js';
import { groupStarts, taskCountFor } from '../../cluster/pool/task-plan.js';
import { hourlyReadings } from '../cim/support/hourly-readings.js';
import { unknownQuantityReading } from '../cim/support/reading-arbitrary.js';

const DAY_MS = Date.UTC(2026, 10, 22);
const production = { minItemsPerTask: 2000, targetItemsPerTask: 32_768, maxItemsPerTask: 65_536 };

describe('task plan with a target task size', () => {
  it('cuts a production batch into tasks of about the target, a multiple of the threads, never above the maximum', () => {
    expect(taskCountFor(1_000_000, 2, production)).toBe(32); // 31,250 readings each
    expect(taskCountFor(61_440, 2, production)).toBe(2); // one per thread, 30,720 each
    expect(taskCountFor(7680, 2, production)).toBe(2); // below the target: still one per thread
    expect(taskCountFor(3000, 2, production)).toBe(1); // two tasks would be under the minimum
    // A target above the maximum is held to the maximum.
    expect(taskCountFor(1_000_000, 2, { ...production, targetItemsPerTask: 1e9 })).toBe(16);
    for (const items of [1, 4000, 65_537, 999_999, 5_000_000]) {
      const tasks = taskCountFor(items, 2, production);
      expect(Math.ceil(items / tasks)).toBeLessThanOrEqual(production.maxItemsPerTask);
    }
    expect(csvChunkRows(1_000_000, 2)).toBe(31_250);
  });
});

/** Messages of uneven sizes, so size-aware grouping cuts at different message counts per task. */
function unevenJobs(count: number, tag: string): MeterReadingsMessageJob[] {
  return Array.from({ length: count }, (_, n) => ({
    readings: hourlyReadings(200 + ((n * 379) % 1700), `${tag}${n}-`, 7, DAY_MS),
    options: { source: 't', messageId: `${tag}-${n}`, timestampMs: DAY_MS },
  }));
}

const mainThreadXml = (job: MeterReadingsMessageJob) =>
  encodeMeterReadings(job.readings, { ...job.options, clock: { now: () => DAY_MS } });

const smallTasks = { minItemsPerTask: 100, targetItemsPerTask: 3000, maxItemsPerTask: 4000 };

// Worker mode runs compiled JS: `npm test` builds first; by hand run `npx tsc -p tsconfig.build.json`.
for (const mode of ['inline', 'workers'] as PoolMode[])
  describe(`messages grouped into tasks by size (${mode})`, () => {
    let pool: WorkerPool;
    beforeAll(() => {
      pool = new WorkerPool({ mode, threads: 2, maxPendingTasks: 8 });
    });
    afterAll(() => pool.close());

    it('keeps message order and writes each message byte for byte as the main thread does', async () => {
      const jobs = unevenJobs(40, 'a');
      const weights = jobs.map((j) => j.readings.length);
      const total = weights.reduce((a, b) => a + b, 0);
      const groups = groupStarts(weights, taskCountFor(total, 2, smallTasks), 1000);
      expect(groups.length).toBeGreaterThan(4);
      const before = pool.completed;
      const bytes = await encodeMeterReadingsInPool(pool, jobs, { taskSize: smallTasks });
      expect(pool.completed - before).toBe(groups.length);
      expect(bytes).toHaveLength(jobs.length);
      for (const [i, job] of jobs.entries())
        expect(Buffer.from(bytes[i]!).toString('utf8')).toBe(mainThreadXml(job));
    });

    it('writes CSV chunks that together are exactly encodeCsvRows, in order', async () => {
      const rows = hourlyReadings(9000, 'c', 13, DAY_MS).map((r) => ({
        serialnumber: r.meterSerial,
        pod: r.usagePoint!,
        value: r.value,
        state: 0,
        cimcode: '0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0',
        sampledate: r.timestampMs,
      }));
      const chunks = await encodeCsvRowsInPool(pool, 'S', rows, { chunkRows: 1000 });
      expect(chunks).toHaveLength(9);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(encodeCsvRows('S', rows));
    });

    it('rejects only the caller whose task failed, with the main-thread error; the other caller gets its bytes', async () => {
      const good = unevenJobs(20, 'g');
      const bad = unevenJobs(20, 'b');
      bad[13] = { ...bad[13]!, readings: [...bad[13]!.readings, unknownQuantityReading()] };
      let mainError: { code?: string } = {};
      try {
        mainThreadXml(bad[13]!);
      } catch (err) {
        mainError = err as { code?: string };
      }
      expect(mainError.code).toMatch(/^MF_/);
      const [failed, succeeded] = await Promise.allSettled([
        encodeMeterReadingsInPool(pool, bad, { taskSize: smallTasks }),
        encodeMeterReadingsInPool(pool, good, { taskSize: smallTasks }),
      ]);
      expect(failed.status).toBe('rejected');
      expect((failed as PromiseRejectedResult).reason).toMatchObject({ code: mainError.code });
      expect(succeeded.status).toBe('fulfilled');
      const bytes = (succeeded as PromiseFulfilledResult<Uint8Array[]>).value;
      for (const [i, job] of good.entries())
        expect(Buffer.from(bytes[i]!).toString('utf8')).toBe(mainThreadXml(job));
      expect(pool.pending).toBe(0);
    });

    it('cancels a grouped encode with MF_POOL_ABORTED, frees every slot, and the pool encodes on afterwards', async () => {
      const jobs = unevenJobs(40, 'x');
      const controller = new AbortController();
      const running = encodeMeterReadingsInPool(pool, jobs, {
        taskSize: smallTasks,
        signal: controller.signal,
      });
      // Its first tasks are already posted (run posts before it returns) and none can have finished.
      controller.abort();
      await expect(running).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
      expect(pool.pending).toBe(0);
      const again = unevenJobs(6, 'y');
      const bytes = await encodeMeterReadingsInPool(pool, again, { taskSize: smallTasks });
      for (const [i, job] of again.entries())
        expect(Buffer.from(bytes[i]!).toString('utf8')).toBe(mainThreadXml(job));
    });
  });
