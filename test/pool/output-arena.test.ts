import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteSink } from '../../adapters/cim/byte-sink.js';
import {
  cimArenaSizing,
  cimOutputArenas,
  encodeMeterReadingsInPool,
  encodeMeterReadingsLeased,
  encodeMeterReadingsMessagesBytes,
  type MeterReadingsMessageJob,
} from '../../adapters/cim/columnar-pool.js';
import { packReadings } from '../../adapters/cim/columnar-readings.js';
import { encodeMeterReadings } from '../../adapters/cim/meter-readings.js';
import { encodeMeterReadingsColumnarInto } from '../../adapters/cim/pool-tasks.js';
import type { CollectedReading } from '../../adapters/field-data.js';
import {
  arenaMessage,
  BytesPerItemEstimate,
  checkArena,
  OutputArenaError,
  OutputArenas,
} from '../../cluster/pool/output-arena.js';
import { type PoolMode, WorkerPool } from '../../cluster/pool/pool.js';
import { hourlyReadings } from '../cim/support/hourly-readings.js';
import { unknownQuantityReading } from '../cim/support/reading-arbitrary.js';

// Pool tasks write CIM messages into output arenas (cluster/pool/output-arena.ts), moved to
// the task and back, instead of a buffer per message; the caller copies, lends or decodes them.

const DAY_MS = Date.UTC(2026, 10, 22);
const smallTasks = { minItemsPerTask: 100, targetItemsPerTask: 3000, maxItemsPerTask: 4000 };

/** Every third message also carries register readings: tasks' type tables differ. */
function jobsOf(count: number, tag: string, profile: 'standard' | 'seed-compat' = 'standard') {
  return Array.from({ length: count }, (_, n): MeterReadingsMessageJob => {
    const readings = hourlyReadings(100 + ((n * 211) % 900), `${tag}${n}-`, 5, DAY_MS);
    if (n % 3 === 0)
      for (let k = 0; k < 4; k++)
        readings.push({
          meterSerial: `${tag}${n}-${k}`,
          kind: 'register',
          quantity: { source: 'obis', code: k % 2 ? '1.8.0' : '2.8.0' },
          value: 1000 + k,
          unit: 'kWh',
          timestampMs: DAY_MS + k,
          qualities: k === 3 ? ['1.4.5'] : undefined,
        } as CollectedReading);
    return { readings, options: { source: 't', messageId: `${tag}-${n}`, timestampMs: DAY_MS, profile } };
  });
}

const mainThreadXml = (job: MeterReadingsMessageJob) => {
  const { timestampMs, ...options } = job.options;
  return encodeMeterReadings(job.readings, { ...options, clock: { now: () => timestampMs } });
};
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('output arenas (caller side)', () => {
  it('sizes arenas in powers of two up to the step, then in steps, within the limits, and reuses a released one', () => {
    const arenas = new OutputArenas({
      minArenaBytes: 1024,
      arenaStepBytes: 8192,
      maxArenaBytes: 64 * 1024,
      maxRetained: 2,
    });
    const a = arenas.acquire(1500);
    expect(a.byteLength).toBe(2048);
    expect(arenas.acquire(10).byteLength).toBe(1024);
    expect(arenas.acquire(8000).byteLength).toBe(8192);
    expect(arenas.acquire(20_000).byteLength).toBe(24_576); // 3 steps, not 32 KiB
    expect(arenas.acquire(1e9).byteLength).toBe(64 * 1024); // capped: the rest spills
    arenas.release(a);
    expect(arenas.acquire(2000)).toBe(a);
    expect(arenas.created).toBe(5);
  });

  it('reserves per item what recent tasks wrote plus the margin, never more than at first', () => {
    const estimate = new BytesPerItemEstimate(512, 3, 1.125);
    expect(estimate.bytesPerItem).toBe(512); // nothing measured yet
    estimate.record(273_000, 1000);
    expect(estimate.bytesPerItem).toBe(Math.ceil(273 * 1.125));
    estimate.record(300_000, 1000);
    estimate.record(200_000, 1000);
    expect(estimate.bytesPerItem).toBe(Math.ceil(300 * 1.125)); // the most of the window
    estimate.record(200_000, 1000);
    estimate.record(200_000, 1000); // 273 and 300 have left the window of 3
    expect(estimate.bytesPerItem).toBe(Math.ceil(200 * 1.125));
    estimate.record(900_000, 1000);
    expect(estimate.bytesPerItem).toBe(512);
    estimate.record(5, 0); // no items: nothing learned
    expect(estimate.bytesPerItem).toBe(512);
  });

  it('keeps at most maxRetained arenas, dropping the smallest', () => {
    const arenas = new OutputArenas({ minArenaBytes: 1024, maxArenaBytes: 64 * 1024, maxRetained: 2 });
    const [small, mid, big] = [1024, 4096, 16_384].map((n) => arenas.acquire(n));
    arenas.release(small!);
    arenas.release(mid!);
    arenas.release(big!);
    arenas.release(big!); // twice: kept once
    expect(arenas.retained).toBe(2);
    expect(arenas.acquire(3000)).toBe(mid); // the smallest left that fits
    // One far larger than needed is not lent: a right-sized one is made, the large one stays free.
    const made = arenas.created;
    const fresh = arenas.acquire(100);
    expect(fresh).not.toBe(big);
    expect(fresh.byteLength).toBe(1024);
    expect(arenas.created).toBe(made + 1);
    expect(arenas.retained).toBe(1);
    expect(arenas.acquire(16_000)).toBe(big); // still there for a task of its size
  });

  it('does not remake arenas for tasks that alternate between small and large', () => {
    const arenas = new OutputArenas({ minArenaBytes: 1024, maxArenaBytes: 64 * 1024, maxRetained: 4 });
    for (let round = 0; round < 50; round++) {
      const large = arenas.acquire(40_000);
      arenas.release(large);
      const small = arenas.acquire(1000);
      expect(small.byteLength).toBe(1024); // never the 40 KiB one lent for a small task
      arenas.release(small);
    }
    expect(arenas.created).toBe(2);
  });

  it('drops a free arena once it has not been lent for maxIdleAcquires acquires', () => {
    const arenas = new OutputArenas({
      minArenaBytes: 1024,
      maxArenaBytes: 64 * 1024,
      maxRetained: 4,
      maxIdleAcquires: 10,
    });
    const large = arenas.acquire(40_000);
    arenas.release(large);
    for (let i = 0; i < 10; i++) arenas.release(arenas.acquire(1000));
    expect(arenas.retained).toBe(2); // 10 acquires since: not idle past the bound yet
    arenas.release(arenas.acquire(1000));
    expect(arenas.retained).toBe(1); // the large one has gone, the small one stays
    const made = arenas.created;
    expect(arenas.acquire(40_000)).not.toBe(large);
    expect(arenas.created).toBe(made + 1);
  });

  it('refuses what is not an arena, and a layout that points outside its arena', () => {
    expect(() => checkArena(new SharedArrayBuffer(8))).toThrow(OutputArenaError);
    expect(() => checkArena(new ArrayBuffer(0))).toThrow(OutputArenaError); // detached: moved away
    expect(() => checkArena(new ArrayBuffer(64), 32)).toThrow(/1 to 32 bytes/);
    const arena = new ArrayBuffer(16);
    expect(() => arenaMessage(arena, { spans: [8, 9], spilled: {}, arena }, 0)).toThrow(/outside its arena/);
    expect(() => arenaMessage(arena, { spans: [-1, 0], spilled: {}, arena }, 0)).toThrow(/neither/);
    expect(arenaMessage(arena, { spans: [4, 12], spilled: {}, arena }, 0).byteLength).toBe(12);
  });
});

describe('the arena task (worker side)', () => {
  it('writes messages in place one after another, and returns one that does not fit on its own, byte-identical', () => {
    const jobs = jobsOf(3, 'in');
    const columnar = jobs.map((j) => ({ columns: packReadings(j.readings), options: j.options }));
    const sizes = jobs.map((j) => Buffer.byteLength(mainThreadXml(j)));
    // Room for the first two messages only (plus the slack the encoder's room checks ask for:
    // it reserves for the longest value and for 3 bytes per character of a text).
    const arena = new ArrayBuffer(sizes[0]! + sizes[1]! + 4096);
    expect(sizes[2]).toBeGreaterThan(4096);
    const layout = encodeMeterReadingsColumnarInto({ jobs: columnar, arena }).value;
    expect(layout.spans).toEqual([0, sizes[0], sizes[0], sizes[1], -1, 0]);
    expect(layout.arena).toBe(arena); // given back (moved back across threads)
    expect(layout.spilled[2]!.buffer).toBeInstanceOf(ArrayBuffer);
    for (const [i, job] of jobs.entries())
      expect(text(arenaMessage(arena, layout, i))).toBe(mainThreadXml(job));
  });

  it("never keeps an arena as the thread's scratch buffer, whether the message fit or failed", () => {
    const jobs = jobsOf(1, 's');
    const columnar = jobs.map((j) => ({ columns: packReadings(j.readings), options: j.options }));
    encodeMeterReadingsColumnarInto({ jobs: columnar, arena: new ArrayBuffer(1 << 20) });
    const bad = packReadings([unknownQuantityReading()]);
    expect(() =>
      encodeMeterReadingsColumnarInto({
        jobs: [{ columns: bad, options: jobs[0]!.options }],
        arena: new ArrayBuffer(1 << 20),
      }),
    ).toThrow();
    const sink = new ByteSink();
    expect(sink.buf.buffer).toBeInstanceOf(ArrayBuffer);
    sink.release();
  });

  it('rejects a task whose arena is shared memory (slow to write) with a clear error', () => {
    const columnar = jobsOf(1, 'x').map((j) => ({ columns: packReadings(j.readings), options: j.options }));
    expect(() =>
      encodeMeterReadingsColumnarInto({
        jobs: columnar,
        arena: new SharedArrayBuffer(1024) as unknown as ArrayBuffer,
      }),
    ).toThrow(expect.objectContaining({ code: 'MF_POOL_ARENA_INVALID' }));
  });
});

// Worker mode runs compiled JS: `npm test` builds first; by hand run `npx tsc -p tsconfig.build.json`.
// Two tasks per worker too: a worker then holds the next task (and its arena) while it runs one.
for (const [mode, tasksPerWorker] of [
  ['inline', 1],
  ['workers', 1],
  ['workers', 2],
] as [PoolMode, number][])
  describe(`CIM encoding through arenas (${mode}, ${tasksPerWorker} task(s) per worker)`, () => {
    let pool: WorkerPool;
    beforeAll(() => {
      // Quiet: a cancelled task's result arriving after its caller left is logged as stray (expected here).
      pool = new WorkerPool({
        mode,
        threads: 2,
        maxPendingTasks: 8,
        tasksPerWorker,
        logger: pino({ level: 'silent' }),
      });
    });
    afterAll(() => pool.close());

    it("gives bytes of their own, leased views and the publisher's bytes byte-identical to the main thread, across tasks with different type tables", async () => {
      // Two profiles and uneven messages: tasks' type tables and codes differ from task to task.
      const jobs = [...jobsOf(12, 'a', 'standard'), ...jobsOf(12, 'b', 'seed-compat')];
      const want = jobs.map(mainThreadXml);
      const owned = await encodeMeterReadingsInPool(pool, jobs, { taskSize: smallTasks });
      expect(owned.map(text)).toEqual(want);
      for (const b of owned) expect(b.buffer).toBeInstanceOf(ArrayBuffer); // not a view into an arena
      const lease = await encodeMeterReadingsLeased(pool, jobs, { taskSize: smallTasks });
      expect(lease.bytes.map(text)).toEqual(want);
      lease.release();
      lease.release(); // harmless
      const published = await encodeMeterReadingsMessagesBytes(
        pool,
        jobs.map((j) => {
          const { timestampMs, ...options } = j.options;
          return { readings: j.readings, options: { ...options, clock: { now: () => timestampMs } } };
        }),
      );
      expect(published.map(text)).toEqual(want);
    });

    it('reuses its arenas from call to call, and never lends one that is still leased', async () => {
      const jobs = jobsOf(10, 'r');
      const want = jobs.map(mainThreadXml);
      const once = async () => {
        const lease = await encodeMeterReadingsLeased(pool, jobs, { taskSize: smallTasks });
        expect(lease.bytes.map(text)).toEqual(want);
        lease.release();
      };
      await once();
      const created = cimOutputArenas.created;
      for (let k = 0; k < 4; k++) await once();
      expect(cimOutputArenas.created).toBe(created);
      // A lease held while other calls run keeps its bytes.
      const held = await encodeMeterReadingsLeased(pool, jobs, { taskSize: smallTasks });
      const other = jobsOf(10, 'o');
      for (let k = 0; k < 3; k++) {
        const lease = await encodeMeterReadingsLeased(pool, other, { taskSize: smallTasks });
        expect(lease.bytes.map(text)).toEqual(other.map(mainThreadXml));
        lease.release();
      }
      expect(held.bytes.map(text)).toEqual(want);
      held.release();
    });

    it("moves each arena to its task (the caller's handle is detached meanwhile) and never reuses a failed task's arena", async () => {
      const jobs = jobsOf(2, 'm');
      const columnar = jobs.map((j) => ({ columns: packReadings(j.readings), options: j.options }));
      const arenas = new OutputArenas({ minArenaBytes: 1 << 20, maxArenaBytes: 1 << 20, maxRetained: 4 });
      const arena = arenas.acquire(1);
      const running = pool.run<{ spans: number[]; arena: ArrayBuffer }>(
        {
          module: 'adapters/cim/pool-tasks',
          fn: 'encodeMeterReadingsColumnarInto',
          payload: { jobs: columnar, arena },
        },
        { transferList: [arena] },
      );
      expect(arena.byteLength).toBe(0); // moved: nothing on this side can read or reuse it now
      const layout = await running;
      expect(layout.arena.byteLength).toBe(1 << 20);
      expect(text(new Uint8Array(layout.arena, layout.spans[0], layout.spans[1]))).toBe(
        mainThreadXml(jobs[0]!),
      );
      arenas.release(layout.arena);
      expect(arenas.retained).toBe(1);
      // A failed task never gives its arena back; releasing the detached handle keeps nothing.
      const lost = arenas.acquire(1);
      const bad = packReadings([unknownQuantityReading()]);
      await expect(
        pool.run(
          {
            module: 'adapters/cim/pool-tasks',
            fn: 'encodeMeterReadingsColumnarInto',
            payload: { jobs: [{ columns: bad, options: jobs[0]!.options }], arena: lost },
          },
          { transferList: [lost] },
        ),
      ).rejects.toMatchObject({ code: 'MF_UNKNOWN_QUANTITY' });
      arenas.release(lost);
      expect(arenas.retained).toBe(0);
    });

    it('a cancelled call rejects with MF_POOL_ABORTED; a concurrent caller and later calls get their bytes', async () => {
      const cancelledJobs = jobsOf(8, 'x');
      const good = jobsOf(8, 'y');
      const controller = new AbortController();
      const cancelled = encodeMeterReadingsLeased(pool, cancelledJobs, {
        taskSize: smallTasks,
        signal: controller.signal,
      });
      const other = encodeMeterReadingsLeased(pool, good, { taskSize: smallTasks });
      controller.abort();
      await expect(cancelled).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
      const lease = await other;
      expect(lease.bytes.map(text)).toEqual(good.map(mainThreadXml));
      lease.release();
      // The cancelled tasks' arenas (detached, or never given back) are not among those lent now.
      for (let k = 0; k < 3; k++) {
        const again = await encodeMeterReadingsLeased(pool, cancelledJobs, { taskSize: smallTasks });
        expect(again.bytes.map(text)).toEqual(cancelledJobs.map(mainThreadXml));
        again.release();
      }
    });

    it('sizes arenas from what earlier tasks wrote; messages much larger than that still come back byte-identical (spilled when they do not fit)', async () => {
      const small = jobsOf(8, 's');
      const first = await encodeMeterReadingsLeased(pool, small, { taskSize: smallTasks });
      first.release();
      const perReading = cimArenaSizing.bytesPerItem;
      expect(perReading).toBeLessThan(512); // learned from the bytes written
      // Long serials and names: many more bytes per reading than the arenas were sized for.
      const long = jobsOf(8, 'L'.repeat(400));
      const want = long.map(mainThreadXml);
      const lease = await encodeMeterReadingsLeased(pool, long, { taskSize: smallTasks });
      expect(lease.bytes.map(text)).toEqual(want);
      lease.release();
      const longBytes = want.reduce((n, xml) => n + Buffer.byteLength(xml), 0);
      const longReadings = long.reduce((n, j) => n + j.readings.length, 0);
      expect(cimArenaSizing.bytesPerItem).toBeGreaterThanOrEqual(
        Math.min(512, Math.ceil((longBytes / longReadings) * 1.125)),
      );
    });

    it('a failing task rejects only its caller; a concurrent caller gets its bytes', async () => {
      const good = jobsOf(8, 'g');
      const bad = jobsOf(8, 'f');
      bad[5] = { ...bad[5]!, readings: [...bad[5]!.readings, unknownQuantityReading()] };
      const [failed, ok] = await Promise.allSettled([
        encodeMeterReadingsLeased(pool, bad, { taskSize: smallTasks }),
        encodeMeterReadingsLeased(pool, good, { taskSize: smallTasks }),
      ]);
      expect(failed.status).toBe('rejected');
      expect((failed as PromiseRejectedResult).reason).toMatchObject({ code: 'MF_UNKNOWN_QUANTITY' });
      expect(ok.status).toBe('fulfilled');
      const lease = (ok as PromiseFulfilledResult<Awaited<ReturnType<typeof encodeMeterReadingsLeased>>>)
        .value;
      expect(lease.bytes.map(text)).toEqual(good.map(mainThreadXml));
      lease.release();
    });
  });
