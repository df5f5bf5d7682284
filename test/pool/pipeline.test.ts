import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PoolMode, WorkerPool } from '../../cluster/pool/pool.js';
import { ownedBytes } from '../../cluster/pool/transfer.js';

const tasks = 'cluster/pool/pool-tasks';

// Worker mode runs compiled JS: `npm test` builds first; by hand run `npx tsc -p tsconfig.build.json`.
for (const mode of ['inline', 'workers'] as PoolMode[])
  describe(`pool pipelines and buffer moves (${mode})`, () => {
    let pool: WorkerPool;
    beforeAll(() => {
      pool = new WorkerPool({ mode, threads: 2, maxPendingTasks: 8 });
    });
    afterAll(() => pool.close());

    it('leaves the caller with detached buffers after a move, and intact ones after a copy', async () => {
      const moved = Uint8Array.from([1, 2, 3, 4]);
      const copied = Uint8Array.from([1, 2, 3, 4]);
      const a = await pool.run(
        { module: tasks, fn: 'sumBytes', payload: moved },
        { transferList: [moved.buffer] },
      );
      const b = await pool.run({ module: tasks, fn: 'sumBytes', payload: copied });
      expect(a).toEqual({ sum: 10, byteLength: 4 });
      expect(b).toEqual({ sum: 10, byteLength: 4 });
      expect(moved.byteLength).toBe(0);
      expect(moved.buffer.byteLength).toBe(0);
      expect([...copied]).toEqual([1, 2, 3, 4]);
    });

    it('returns results in index order whatever order the tasks finish in', async () => {
      const order = await pool.runPipelined<number>(6, (i) => ({
        module: tasks,
        fn: 'spin',
        payload: { ms: (6 - i) * 15 },
      }));
      expect(order).toEqual([90, 75, 60, 45, 30, 15]);
    });

    it('never has more than inFlight of its tasks admitted, and builds each task only when it can submit it', async () => {
      const before = pool.pending;
      const seen: number[] = [];
      const out = await pool.runPipelined<number>(
        12,
        (i) => {
          seen.push(pool.pending - before);
          return { module: tasks, fn: 'spin', payload: { ms: 10 + (i % 3) * 10 } };
        },
        { inFlight: 3 },
      );
      expect(out).toHaveLength(12);
      expect(seen).toHaveLength(12);
      // When task i is built, at most inFlight - 1 others are still admitted.
      expect(Math.max(...seen)).toBeLessThanOrEqual(2);
      expect(pool.pending).toBe(before);
    });

    it('throws the failure of the lowest index, after tasks already running have settled', async () => {
      const before = pool.completed;
      const run = pool.runPipelined(
        10,
        (i) =>
          i === 1
            ? { module: tasks, fn: 'spinThenFail', payload: { ms: 150, code: 'MF_TEST_FIRST' } }
            : i === 2
              ? { module: tasks, fn: 'fail', payload: { code: 'MF_TEST_SECOND' } }
              : { module: tasks, fn: 'spin', payload: { ms: 5 } },
        { inFlight: 3 },
      );
      await expect(run).rejects.toMatchObject({ code: 'MF_TEST_FIRST' });
      // No task starts after a failure, so far fewer than all 10 ran.
      expect(pool.completed - before).toBeLessThan(10);
      expect(pool.pending).toBe(0);
    });

    it('cancels a pipeline with its AbortSignal: MF_POOL_ABORTED, nothing left admitted', async () => {
      const controller = new AbortController();
      const before = pool.completed;
      const run = pool.runPipelined(
        40,
        (i) => {
          // Cancel from inside the pipeline: inline mode never yields to timers between tasks.
          if (i === 4) controller.abort();
          return { module: tasks, fn: 'spin', payload: { ms: 30 } };
        },
        { signal: controller.signal, inFlight: 2 },
      );
      await expect(run).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
      expect(pool.completed - before).toBeLessThan(40);
      expect(pool.pending).toBe(0);
      expect(pool.waiting).toBe(0);
    });

    it('still refuses work beyond maxPendingTasks with MF_POOL_QUEUE_FULL (back-pressure)', async () => {
      const small = new WorkerPool({ mode, threads: 1, maxPendingTasks: 1, maxWaitingCallers: 0 });
      try {
        // All calls are made before anything is awaited: inline mode runs the spin on this thread.
        const busy = small.run({ module: tasks, fn: 'spin', payload: { ms: 50 } });
        const refused = small.run({ module: tasks, fn: 'doubleAll', payload: [1] });
        const refusedWaiter = small.run({ module: tasks, fn: 'doubleAll', payload: [1] }, { wait: true });
        await expect(refused).rejects.toMatchObject({ code: 'MF_POOL_QUEUE_FULL' });
        await expect(refusedWaiter).rejects.toMatchObject({ code: 'MF_POOL_QUEUE_FULL' });
        await busy;
        // runPipelined keeps within the bound instead of failing on its own tasks.
        expect(
          await small.runPipelined<number[]>(5, (i) => ({ module: tasks, fn: 'doubleAll', payload: [i] })),
        ).toEqual([[0], [2], [4], [6], [8]]);
      } finally {
        await small.close();
      }
    });
  });

describe('results moved back from a worker', () => {
  const pool = new WorkerPool({ mode: 'workers', threads: 1 });
  afterAll(() => pool.close());

  it('moves a withTransfer result out of the worker (its own copy is detached) and copies a plain one', async () => {
    const moved = await pool.run<Uint8Array>({
      module: tasks,
      fn: 'keepAndMoveBytes',
      payload: { size: 4096, move: true },
    });
    expect(moved.byteLength).toBe(4096);
    expect(moved[4095]).toBe(7);
    expect(await pool.run({ module: tasks, fn: 'keptByteLength', payload: null })).toBe(0);
    const copied = await pool.run<Uint8Array>({
      module: tasks,
      fn: 'keepAndMoveBytes',
      payload: { size: 4096, move: false },
    });
    expect(copied.byteLength).toBe(4096);
    expect(await pool.run({ module: tasks, fn: 'keptByteLength', payload: null })).toBe(4096);
  });
});

describe('ownedBytes', () => {
  it('puts even a short string into an ArrayBuffer of its own, so it can move', () => {
    const bytes = ownedBytes('<a>é</a>');
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
    expect(Buffer.from(bytes).toString('utf8')).toBe('<a>é</a>');
  });
});
