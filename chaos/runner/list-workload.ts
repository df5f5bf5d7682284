/**
 * The list-append workload (Elle's list-append, one key per operation): a few logical
 * processes append unique integers to a few `list` actors and read whole lists through
 * ActorProxy while the nemeses run. Every operation goes into the history as invoke → ok /
 * fail / info, with f `append` (value: the element) or `read` (ok value: the list), which is
 * what `checkListAppend` judges: lost, duplicated or reordered elements.
 */
import type { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import { isMeterfabricError } from '../../core/errors.js';
import type { HistoryRecorder } from '../checkers/history.js';
import type { Prng } from './prng.js';
import { definiteFailures } from './workload.js';

export const listService = 'list';

export type ListWorkloadOptions = {
  proxy: ActorProxy;
  history: HistoryRecorder;
  rng: Prng;
  /** History process ids [firstProcess, firstProcess + processes): disjoint from other workloads'. */
  firstProcess: number;
  processes: number;
  keys: readonly string[];
  /** Whole-call deadline; ActorProxy retries (same idempotency key) inside it. */
  callDeadlineMs: number;
  thinkMs: number;
  readFraction: number;
};

function errorText(err: unknown): { code: string; text: string } {
  const code = isMeterfabricError(err) ? err.code : 'MF_UNKNOWN';
  return { code, text: `${code}: ${String((err as Error).message)}` };
}

export class ListWorkload {
  private running = false;
  private loops: Promise<void>[] = [];
  /** Elements are unique across the whole run (so certainly unique per key). */
  private nextElement = 1;
  operations = 0;

  constructor(private readonly options: ListWorkloadOptions) {}

  start(): void {
    this.running = true;
    for (let p = 0; p < this.options.processes; p++)
      this.loops.push(this.loop(this.options.firstProcess + p, this.options.rng.fork()));
  }

  /** Lets every in-flight operation complete (or time out), then returns. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async loop(process: number, rng: Prng): Promise<void> {
    while (this.running) {
      const key = rng.pick(this.options.keys);
      if (rng.next() < this.options.readFraction) await this.read(process, key, this.options.callDeadlineMs);
      else await this.append(process, key);
      await new Promise((r) => setTimeout(r, this.options.thinkMs));
    }
  }

  async append(process: number, key: string): Promise<void> {
    const { history, proxy } = this.options;
    const element = this.nextElement++;
    history.invoke(process, 'append', key, element);
    this.operations++;
    try {
      const result = await proxy.call<{ length: number }>(
        listService,
        key,
        'append',
        { element },
        { deadlineMs: this.options.callDeadlineMs },
      );
      history.complete(process, 'ok', result);
    } catch (err) {
      const { code, text } = errorText(err);
      // Only a refusal before the actor ran is a certain failure; anything else may have committed.
      history.complete(process, definiteFailures.has(code) ? 'fail' : 'info', null, text);
    }
  }

  read(process: number, key: string, deadlineMs: number): Promise<void> {
    this.operations++;
    return recordListRead(this.options.proxy, this.options.history, process, key, deadlineMs);
  }
}

/** A read changes nothing, so a failed one is recorded as fail; ok carries the whole list. */
export async function recordListRead(
  proxy: ActorProxy,
  history: HistoryRecorder,
  process: number,
  key: string,
  deadlineMs: number,
): Promise<void> {
  history.invoke(process, 'read', key, null);
  try {
    const result = await proxy.call<{ elements: unknown[] }>(listService, key, 'read', null, { deadlineMs });
    history.complete(process, 'ok', result.elements);
  } catch (err) {
    history.complete(process, 'fail', null, errorText(err).text);
  }
}
