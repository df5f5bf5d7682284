import { afterEach, describe, expect, it } from 'vitest';
import { WorkerPool } from '../../cluster/pool/pool.js';

// Two tasks handed to one worker at a time (tasksPerWorker 2, piscina concurrentTasksPerWorker).
// Worker mode runs compiled JS: `npm test` builds first; by hand run `npx tsc -p tsconfig.build.json`.
const tasks = 'cluster/pool/pool-tasks';
type Stamped = { threadId: number; startedAtMs: number; endedAtMs: number };
const nowMs = () => performance.timeOrigin + performance.now();

describe('two tasks per worker', () => {
  let pool: WorkerPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it("posts a finished task's result before it runs the next task it already holds", async () => {
    pool = new WorkerPool({ mode: 'workers', threads: 1, tasksPerWorker: 2 });
    await pool.run({ module: tasks, fn: 'threadInfo', payload: null }); // the worker is up
    for (let round = 0; round < 3; round++) {
      // Both posted in one turn: the idle worker receives them together.
      let firstHandledAtMs = 0;
      const first = pool
        .run<Stamped>({ module: tasks, fn: 'spinStamped', payload: { ms: 150 } })
        .then((r) => {
          firstHandledAtMs = nowMs();
          return r;
        });
      const second = pool.run<Stamped>({ module: tasks, fn: 'spinStamped', payload: { ms: 150 } });
      const [a, b] = await Promise.all([first, second]);
      expect(b.threadId).toBe(a.threadId);
      expect(b.startedAtMs).toBeGreaterThanOrEqual(a.endedAtMs);
      // The first result reached this thread while the second task was still running.
      expect(firstHandledAtMs).toBeLessThan(b.endedAtMs);
    }
  });

  it('cancelling a running task fails only that task: a task submitted beside it completes with its moved bytes', async () => {
    pool = new WorkerPool({ mode: 'workers', threads: 1, tasksPerWorker: 2 });
    const controller = new AbortController();
    const runaway = pool.run(
      { module: tasks, fn: 'spin', payload: { ms: 5000 } },
      { signal: controller.signal },
    );
    runaway.catch(() => undefined);
    // Not cancellable itself; piscina never queues a task on a worker running a cancellable
    // one, so this waits in the pool's queue, with its buffer still on this side.
    const bytes = new Uint8Array(4096).map((_, i) => i % 251);
    const neighbour = pool.run<{ sum: number; byteLength: number }>(
      { module: tasks, fn: 'sumBytes', payload: bytes },
      { transferList: [bytes.buffer] },
    );
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await expect(runaway).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
    expect(Date.now() - started).toBeLessThan(4000); // stopped, not run to its end
    const want = Array.from({ length: 4096 }, (_, i) => i % 251).reduce((a, b) => a + b, 0);
    expect(await neighbour).toEqual({ sum: want, byteLength: 4096 });
    expect(pool.strayErrors).toBe(0);
  });

  it('cancelling a waiting task leaves the running one alone, and its buffers never left this thread', async () => {
    pool = new WorkerPool({ mode: 'workers', threads: 1, tasksPerWorker: 2 });
    const running = pool.run<number>({ module: tasks, fn: 'spin', payload: { ms: 300 } });
    const controller = new AbortController();
    const bytes = new Uint8Array(1024).fill(3);
    const waiting = pool.run(
      { module: tasks, fn: 'sumBytes', payload: bytes },
      { signal: controller.signal, transferList: [bytes.buffer] },
    );
    let runningDone = false;
    void running.then(() => {
      runningDone = true;
    });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
    expect(runningDone).toBe(false); // rejected at once, not after the running task
    expect(bytes.byteLength).toBe(1024); // never handed to a worker
    expect(await running).toBe(300);
    expect(await pool.run({ module: tasks, fn: 'doubleAll', payload: [21] })).toEqual([42]);
  });

  it('a runaway cancellable task is stopped while tasks without a signal keep running on the other worker', async () => {
    pool = new WorkerPool({ mode: 'workers', threads: 2, tasksPerWorker: 2 });
    const controller = new AbortController();
    const runaway = pool.run(
      { module: tasks, fn: 'spinStamped', payload: { ms: 5000 } },
      { signal: controller.signal },
    );
    runaway.catch(() => undefined);
    const others = Array.from({ length: 6 }, () =>
      pool!.run<Stamped>({ module: tasks, fn: 'spinStamped', payload: { ms: 30 } }),
    );
    setTimeout(() => controller.abort(), 50);
    await expect(runaway).rejects.toMatchObject({ code: 'MF_POOL_ABORTED' });
    const done = await Promise.all(others);
    expect(done.every((r) => r.endedAtMs > r.startedAtMs)).toBe(true);
  });
});
