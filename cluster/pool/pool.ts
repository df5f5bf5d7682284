import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { MeterfabricError } from '../../core/errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { distPath } from '../../core/paths.js';
import {
  checkTaskAddress,
  errorOfOutcome,
  type ModuleFlavour,
  PoolTaskError,
  runTask,
  type TaskAddress,
  type TaskOutcome,
} from './task-module.js';
import type { PoolWorkerData } from './worker.js';

/**
 * One worker pool per node (piscina), for CPU-bound batch work: CSV and CIM XML encoding,
 * frame decoding. Tasks are addressed by module path + export name
 * (`{ module: 'adapters/knx/pool-tasks', fn: 'decodeFrames', payload }`), so there is no
 * shared registry. Admission is bounded: at most `maxPendingTasks` tasks are queued or
 * running; beyond that `run` either rejects with MF_POOL_QUEUE_FULL or (with `wait: true`)
 * waits for room, which is the back-pressure callers feel. `inline` mode runs the same task
 * functions on the calling thread (tests; under vitest it imports the TypeScript sources).
 */
export type PoolMode = 'workers' | 'inline';

export type WorkerPoolOptions = {
  mode?: PoolMode;
  /** Worker threads; default: the CPU count (os.availableParallelism()). */
  threads?: number;
  /** Upper bound of tasks admitted (queued + running); default threads x 8. */
  maxPendingTasks?: number;
  /** Upper bound of callers waiting for admission with `wait: true`; default maxPendingTasks x 4. */
  maxWaitingCallers?: number;
  /** Idle workers above the minimum exit after this long. */
  idleTimeoutMs?: number;
  /** Inline mode only: 'source' imports the .ts file, 'dist' the compiled one; default by how this module runs. */
  inlineFlavour?: ModuleFlavour;
  /**
   * Tasks handed to one worker at a time (piscina concurrentTasksPerWorker); default 1. With 2
   * the next task already waits in the worker's port when one finishes (no round trip through
   * the main thread), and the worker posts each result before it starts the next (worker.ts).
   * Safe with cancellation: piscina 5's balancer gives a task with a signal only to an idle
   * worker and nothing else to a worker running one, so a cancel (which terminates that worker)
   * never takes a task its caller did not cancel (test/pool/tasks-per-worker.test.ts); such
   * tasks run one per worker. Not the default: with right-sized output arenas it measured no
   * better than 1 (cluster/pool/README.md, session 17).
   */
  tasksPerWorker?: number;
  /** Young generation of each worker's heap in MiB (resourceLimits); default: V8's. */
  youngGenerationSizeMb?: number;
  /** Where the pool reports what piscina emits outside any task (default: a pino logger made on first use). */
  logger?: Logger;
};

export type PoolTask<P = unknown> = TaskAddress & { payload: P };

export type PoolRunOptions = {
  signal?: AbortSignal;
  /** Wait for admission instead of rejecting with MF_POOL_QUEUE_FULL when the pool is saturated. */
  wait?: boolean;
  /**
   * ArrayBuffers of the payload to move to the worker instead of copying: afterwards they are
   * detached (byteLength 0) on the caller's side. Inline mode moves them too, so callers see
   * the same in both modes.
   */
  transferList?: ArrayBuffer[];
};

/** A task with the buffers of its payload to move (see PoolRunOptions.transferList). */
export type PoolTaskWithTransfer<P = unknown> = PoolTask<P> & { transferList?: ArrayBuffer[] };

export type PipelineOptions = Pick<PoolRunOptions, 'signal' | 'wait'> & {
  /** Tasks in flight at once; default threads x 2 (each worker has the next task queued). */
  inFlight?: number;
};

export type BatchOptions = PoolRunOptions & {
  /** Items per task; default 1000. Each task gets an array and must return an array of results. */
  batchSize?: number;
};

export class PoolQueueFullError extends MeterfabricError {
  constructor(pending: number, limit: number) {
    super(
      'MF_POOL_QUEUE_FULL',
      `worker pool is saturated (${pending} of ${limit} tasks pending); retry later or pass { wait: true } to wait for room`,
      { pending, limit },
    );
    this.name = 'PoolQueueFullError';
  }
}

export class PoolAbortedError extends MeterfabricError {
  constructor() {
    super('MF_POOL_ABORTED', 'pool task was cancelled by its caller (AbortSignal)');
    this.name = 'PoolAbortedError';
  }
}

const runningFromSource = import.meta.url.endsWith('.ts');

export class WorkerPool {
  readonly mode: PoolMode;
  readonly threads: number;
  readonly maxPendingTasks: number;
  readonly maxWaitingCallers: number;
  private readonly piscina: Piscina | undefined;
  private readonly inlineFlavour: ModuleFlavour;
  private pendingCount = 0;
  private readonly waiters: { admit: () => void; reject: (err: Error) => void }[] = [];
  private closed = false;
  private completedCount = 0;
  private strayErrorCount = 0;

  constructor(options: WorkerPoolOptions = {}) {
    this.mode = options.mode ?? 'workers';
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.maxPendingTasks = Math.max(1, options.maxPendingTasks ?? this.threads * 8);
    this.maxWaitingCallers = Math.max(0, options.maxWaitingCallers ?? this.maxPendingTasks * 4);
    this.inlineFlavour = options.inlineFlavour ?? (runningFromSource ? 'source' : 'dist');
    if (this.mode === 'workers') {
      const filename = distPath('cluster', 'pool', 'worker.js');
      if (!existsSync(filename))
        throw new PoolTaskError(
          'MF_POOL_TASK_MISSING',
          `pool worker ${filename} is missing; run \`npm run build\` first`,
          {
            filename,
          },
        );
      const tasksPerWorker = Math.max(1, options.tasksPerWorker ?? 1);
      this.piscina = new Piscina({
        filename,
        minThreads: this.threads,
        maxThreads: this.threads,
        // Our admission bound is the real limit; piscina's own queue only has to hold what we admit.
        maxQueue: this.maxPendingTasks,
        idleTimeout: options.idleTimeoutMs ?? 30_000,
        concurrentTasksPerWorker: tasksPerWorker,
        workerData: { yieldBeforeTask: tasksPerWorker > 1 } satisfies PoolWorkerData,
        // Per-task run/wait histograms cost main-thread time on every task; nothing reads them.
        recordTiming: false,
        ...(options.youngGenerationSizeMb
          ? { resourceLimits: { maxYoungGenerationSizeMb: options.youngGenerationSizeMb } }
          : {}),
      });
      // Piscina emits 'error' for what no task is waiting for: a result that arrives for a task
      // cancelled a moment before (its worker had already posted it), or a worker dying while
      // idle. Unheard, an EventEmitter 'error' is thrown and would take the whole node down;
      // neither loses anything (the cancelled caller has its rejection, a dead worker is replaced).
      this.piscina.on('error', (err: unknown) => {
        this.strayErrorCount++;
        (options.logger ?? createLogger({ component: 'pool' })).warn(
          { err },
          'worker pool: a worker message or error outside any task (a result for a cancelled task, or an idle worker that died); ignored',
        );
      });
    }
  }

  /** Tasks admitted and not yet finished. */
  get pending(): number {
    return this.pendingCount;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get completed(): number {
    return this.completedCount;
  }

  /** Worker messages or errors that belonged to no task (logged and ignored; see the constructor). */
  get strayErrors(): number {
    return this.strayErrorCount;
  }

  /**
   * Runs one task. When there is room it is posted to a worker before `run` returns (no await
   * in between), so a caller preparing the next batch overlaps with the worker's encoding.
   */
  run<R = unknown, P = unknown>(task: PoolTask<P>, options: PoolRunOptions = {}): Promise<R> {
    try {
      checkTaskAddress(task);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.reject(new PoolTaskError('MF_POOL_CLOSED', 'worker pool is closed'));
    if (options.signal?.aborted) return Promise.reject(new PoolAbortedError());
    if (this.pendingCount < this.maxPendingTasks) {
      this.pendingCount++;
      return this.runAdmitted<R>(task, options);
    }
    return this.admit(options).then(() => this.runAdmitted<R>(task, options));
  }

  /**
   * Runs `count` tasks, building task `i` with `taskAt(i)` only when a lane is free to submit
   * it, with at most `inFlight` of them queued or running: the caller's per-batch preparation
   * (packing columns) happens while the workers encode the previous batches, and a long input
   * never floods the queue. Results come back in index order. After a failure no further task
   * starts; those in flight finish, and the error of the lowest index is thrown, so the caller
   * hears of the first bad item whatever order the workers finished in.
   */
  async runPipelined<R, T = R>(
    count: number,
    taskAt: (index: number) => PoolTaskWithTransfer,
    options: PipelineOptions & {
      /**
       * Applied to each result as it arrives, before its lane builds the next task (e.g. to
       * copy bytes out of an output arena and give the arena back); what it returns is the
       * result. Not called for a task that failed.
       */
      onResult?: (result: R, index: number) => T;
    } = {},
  ): Promise<T[]> {
    const results: T[] = new Array(count);
    const onResult = options.onResult;
    const runOptions: PoolRunOptions = { wait: options.wait ?? true };
    if (options.signal) runOptions.signal = options.signal;
    let next = 0;
    const failed: { first?: { index: number; error: unknown } } = {};
    const fail = (index: number, error: unknown): void => {
      if (!failed.first || index < failed.first.index) failed.first = { index, error };
    };
    const lane = async (): Promise<void> => {
      while (!failed.first && next < count) {
        const index = next++;
        try {
          const { transferList, ...task } = taskAt(index);
          const result = await this.run<R>(task, transferList ? { ...runOptions, transferList } : runOptions);
          results[index] = onResult ? onResult(result, index) : (result as unknown as T);
        } catch (error) {
          fail(index, error);
        }
      }
    };
    const inFlight = Math.max(1, options.inFlight ?? this.threads * 2);
    const window = Math.min(count, this.maxPendingTasks, inFlight);
    await Promise.all(Array.from({ length: window }, lane));
    if (failed.first) throw failed.first.error;
    return results;
  }

  /**
   * Splits `items` into batches of `batchSize`, runs one task per batch (the export receives an
   * array and returns an array), and concatenates the results in input order. At most
   * `threads x 2` of its batches are in flight at once (a sliding window), so a huge input
   * neither floods the queue nor overruns `maxWaitingCallers` and fails MF_POOL_QUEUE_FULL
   * on its own batches.
   */
  async runBatches<I, R>(
    address: TaskAddress,
    items: readonly I[],
    options: BatchOptions = {},
  ): Promise<R[]> {
    checkTaskAddress(address);
    const batchSize = Math.max(1, options.batchSize ?? 1000);
    const batches: I[][] = [];
    for (let i = 0; i < items.length; i += batchSize) batches.push(items.slice(i, i + batchSize));
    const results = await this.runPipelined<R[]>(
      batches.length,
      (index) => ({ ...address, payload: batches[index]! }),
      options.signal
        ? { wait: options.wait ?? true, signal: options.signal }
        : { wait: options.wait ?? true },
    );
    return results.flat();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0))
      waiter.reject(new PoolTaskError('MF_POOL_CLOSED', 'worker pool is closed'));
    await this.piscina?.destroy();
  }

  private async admit(options: PoolRunOptions): Promise<void> {
    if (this.pendingCount < this.maxPendingTasks) {
      this.pendingCount++;
      return;
    }
    if (!options.wait) throw new PoolQueueFullError(this.pendingCount, this.maxPendingTasks);
    if (this.waiters.length >= this.maxWaitingCallers)
      throw new PoolQueueFullError(this.pendingCount, this.maxPendingTasks);
    await new Promise<void>((resolve, reject) => {
      const signal = options.signal;
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new PoolAbortedError());
      };
      const waiter = {
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Hands the slot just freed straight to the oldest waiter (FIFO), so waiters are not overtaken. */
  private releaseOne(): void {
    const next = this.waiters.shift();
    if (next) {
      this.pendingCount++;
      next.admit();
    }
  }

  private async runAdmitted<R>(task: PoolTask, options: PoolRunOptions): Promise<R> {
    try {
      const outcome = await this.execute(task, options);
      if (!outcome.ok) throw errorOfOutcome(outcome);
      return outcome.value as R;
    } finally {
      this.pendingCount--;
      this.completedCount++;
      this.releaseOne();
    }
  }

  private async execute(task: PoolTask, options: PoolRunOptions): Promise<TaskOutcome> {
    const { signal, transferList } = options;
    if (!this.piscina) {
      // Moving the buffers here too keeps the caller's view of them the same as in worker mode.
      const payload = transferList?.length
        ? structuredClone(task.payload, { transfer: transferList })
        : task.payload;
      const { outcome } = await runTask(task, payload, this.inlineFlavour);
      if (signal?.aborted) throw new PoolAbortedError();
      return outcome;
    }
    const message = { module: task.module, fn: task.fn, payload: task.payload };
    const runOptions: { signal?: AbortSignal; transferList?: ArrayBuffer[] } = {};
    if (signal) runOptions.signal = signal;
    if (transferList?.length) runOptions.transferList = transferList;
    try {
      return (await this.piscina.run(message, runOptions)) as TaskOutcome;
    } catch (err) {
      if (signal?.aborted || (err instanceof Error && err.name === 'AbortError'))
        throw new PoolAbortedError();
      throw err;
    }
  }
}

let nodePool: WorkerPool | undefined;

/** The node's single pool, created on first use (mode from MF_POOL_MODE, default workers). */
export function nodeWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  if (!nodePool) {
    const envMode = process.env.MF_POOL_MODE === 'inline' ? 'inline' : undefined;
    nodePool = new WorkerPool({ ...options, mode: options.mode ?? envMode ?? 'workers' });
  }
  return nodePool;
}

export async function closeNodeWorkerPool(): Promise<void> {
  const pool = nodePool;
  nodePool = undefined;
  await pool?.close();
}
