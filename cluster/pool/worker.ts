import { workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { runTask, type TaskAddress, type TaskOutcome } from './task-module.js';

/**
 * Piscina worker entry: runs one task message `{ module, fn, payload }` against the compiled
 * module under dist/ and returns a TaskOutcome (errors as data, so codes survive). Buffers a
 * task marked with `withTransfer` are moved to the caller, not copied: piscina only looks at
 * the top-level result, so the outcome is wrapped in its transferable shape here.
 */
export type WorkerMessage = TaskAddress & { payload: unknown };

/** What the pool tells its workers at start (piscina `workerData`). */
export type PoolWorkerData = { yieldBeforeTask?: boolean };

/**
 * With more than one task per worker (`tasksPerWorker`), piscina's worker starts every task it
 * has received on microtasks, so two tasks that arrived together both ran to the end before
 * the first one's result was posted (measured: ~10% of tasks' results held until the next
 * task's encode had ended). A macrotask turn before the work lets each task post its result
 * as soon as it is done while the next one waits in the worker. One task per worker has
 * nothing to wait behind, so it skips the turn.
 */
const yieldBeforeTask = (workerData as PoolWorkerData | undefined)?.yieldBeforeTask === true;

export default async function runPoolTask(message: WorkerMessage): Promise<TaskOutcome> {
  if (yieldBeforeTask) await new Promise<void>((resolve) => setImmediate(resolve));
  const { outcome, transfer } = await runTask(
    { module: message.module, fn: message.fn },
    message.payload,
    'dist',
  );
  if (transfer.length === 0) return outcome;
  // piscina's Transferable type names its own unique symbols, which its static getters do not carry.
  const movable = { [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: outcome };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]) as unknown as TaskOutcome;
}
