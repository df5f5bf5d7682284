import { Piscina } from 'piscina';
import { runTask, type TaskAddress, type TaskOutcome } from './task-module.js';

/**
 * Piscina worker entry: runs one task message `{ module, fn, payload }` against the compiled
 * module under dist/ and returns a TaskOutcome (errors as data, so codes survive). Buffers a
 * task marked with `withTransfer` are moved to the caller, not copied: piscina only looks at
 * the top-level result, so the outcome is wrapped in its transferable shape here.
 */
export type WorkerMessage = TaskAddress & { payload: unknown };

export default async function runPoolTask(message: WorkerMessage): Promise<TaskOutcome> {
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
