import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerPool } from '../../cluster/pool/pool.js';
import { distPath } from '../../core/paths.js';

const tasks = 'cluster/pool/pool-tasks';

describe('worker pool, inline mode', () => {
  const pool = new WorkerPool({ mode: 'inline', threads: 2, maxPendingTasks: 2, maxWaitingCallers: 1 });
  afterAll(() => pool.close());

  it('runs a task addressed by module path and export name on the calling thread', async () => {
    expect(await pool.run({ module: tasks, fn: 'doubleAll', payload: [1, 2, 3] })).toEqual([2, 4, 6]);
    expect(await pool.run({ module: tasks, fn: 'threadInfo', payload: null })).toMatchObject({
      isMainThread: true,
    });
  });

  it('splits a batch into tasks of batchSize and returns results in input order', async () => {
    const items = Array.from({ length: 25 }, (_, i) => [i, i]);
    const before = pool.completed;
    const sums = await pool.runBatches<number[], number>({ module: tasks, fn: 'sumBatches' }, items, {
      batchSize: 10,
    });
    expect(sums).toEqual(items.map(([a, b]) => a! + b!));
    expect(pool.completed - before).toBe(3);
  });

  it('runs many more batches than the pool admits or lets wait, without MF_POOL_QUEUE_FULL', async () => {
    // 40 batches against maxPendingTasks 2 and maxWaitingCallers 1: runBatches must feed them
    // through a window rather than submit them all at once and have its own batches refused.
    const items = Array.from({ length: 40 }, (_, i) => [i, 1]);
    const sums = await pool.runBatches<number[], number>({ module: tasks, fn: 'sumBatches' }, items, {
      batchSize: 1,
    });
    expect(sums).toEqual(items.map(([a]) => a! + 1));
    expect(pool.pending).toBe(0);
    expect(pool.waiting).toBe(0);
  });

  it('refuses modules outside the allow-list with MF_POOL_TASK_FORBIDDEN', async () => {
    for (const module of [
      'core/paths',
      'adapters/../core/paths',
      'adapters/knx/codec',
      '/etc/passwd-pool-tasks',
    ]) {
      await expect(pool.run({ module, fn: 'x', payload: null })).rejects.toMatchObject({
        code: 'MF_POOL_TASK_FORBIDDEN',
      });
    }
  });

  it('reports a missing export with MF_POOL_TASK_MISSING', async () => {
    await expect(pool.run({ module: tasks, fn: 'noSuchExport', payload: null })).rejects.toMatchObject({
      code: 'MF_POOL_TASK_MISSING',
    });
  });

  it('keeps the code of an error thrown by the task', async () => {
    await expect(
      pool.run({ module: tasks, fn: 'fail', payload: { code: 'MF_TEST_CODE' } }),
    ).rejects.toMatchObject({
      code: 'MF_TEST_CODE',
    });
  });

  it('rejects with MF_POOL_QUEUE_FULL when saturated, and waits for room with wait: true', async () => {
    const busy = [
      pool.run({ module: tasks, fn: 'spin', payload: { ms: 30 } }),
      pool.run({ module: tasks, fn: 'spin', payload: { ms: 30 } }),
    ];
    expect(pool.pending).toBe(2);
    // All three calls are made before anything is awaited, so the two spinning tasks still hold the pool.
    const refused = pool.run({ module: tasks, fn: 'doubleAll', payload: [1] });
    const waited = pool.run({ module: tasks, fn: 'doubleAll', payload: [5] }, { wait: true });
    // maxWaitingCallers = 1: a second waiter is refused rather than queued without bound.
    const refusedWaiter = pool.run({ module: tasks, fn: 'doubleAll', payload: [1] }, { wait: true });
    expect(pool.waiting).toBe(1);
    await expect(refused).rejects.toMatchObject({ code: 'MF_POOL_QUEUE_FULL' });
    await expect(refusedWaiter).rejects.toMatchObject({ code: 'MF_POOL_QUEUE_FULL' });
    await Promise.all(busy);
    expect(await waited).toEqual([10]);
    expect(pool.pending).toBe(0);
  });

  it('cancels a caller waiting for admission with MF_POOL_ABORTED and frees its place', async () => {
    const busy = [
      pool.run({ module: tasks, fn: 'spin', payload: { ms: 30 } }),
      pool.run({ module: tasks, fn: 'spin', payload: { ms: 30 } }),
    ];
    const controller = new AbortController();
    const waiting = pool.run(
      { module: tasks, fn: 'doubleAll', payload: [1] },
      { wait: true, signal: controller.signal },
    );
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
    expect(pool.waiting).toBe(0);
    await Promise.all(busy);
    await expect(
      pool.run({ module: tasks, fn: 'doubleAll', payload: [1] }, { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
  });
});

// Worker mode runs compiled JS: `npm test` builds first; by hand run `npx tsc -p tsconfig.build.json`.
describe('worker pool, worker threads', () => {
  it('has a compiled worker to run (npm run build)', () => {
    expect(existsSync(distPath('cluster', 'pool', 'worker.js'))).toBe(true);
  });

  it('runs tasks off the main thread, keeps error codes, and cancels a running task', async () => {
    const pool = new WorkerPool({ mode: 'workers', threads: 2 });
    try {
      const info = await pool.run<{ isMainThread: boolean }>({
        module: tasks,
        fn: 'threadInfo',
        payload: null,
      });
      expect(info.isMainThread).toBe(false);
      const sums = await pool.runBatches<number[], number>(
        { module: tasks, fn: 'sumBatches' },
        [[1, 2], [3, 4], [5]],
        { batchSize: 2 },
      );
      expect(sums).toEqual([3, 7, 5]);
      await expect(
        pool.run({ module: tasks, fn: 'fail', payload: { code: 'MF_TEST_CODE' } }),
      ).rejects.toMatchObject({
        code: 'MF_TEST_CODE',
      });
      const controller = new AbortController();
      const running = pool.run(
        { module: tasks, fn: 'spin', payload: { ms: 5000 } },
        { signal: controller.signal },
      );
      setTimeout(() => controller.abort(), 50);
      const started = Date.now();
      await expect(running).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
      expect(Date.now() - started).toBeLessThan(4000);
      expect(await pool.run({ module: tasks, fn: 'doubleAll', payload: [21] })).toEqual([42]);
    } finally {
      await pool.close();
    }
  });
});
