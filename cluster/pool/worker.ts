import { runTask, type TaskAddress, type TaskOutcome } from './task-module.js';

/**
 * Piscina worker entry: runs one task message `{ module, fn, payload }` against the compiled
 * module under dist/ and returns a TaskOutcome (errors as data, so codes survive).
 */
export type WorkerMessage = TaskAddress & { payload: unknown };

export default async function runPoolTask(message: WorkerMessage): Promise<TaskOutcome> {
  return runTask({ module: message.module, fn: message.fn }, message.payload, 'dist');
}
