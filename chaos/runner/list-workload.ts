/**
 * The list-append workload (Elle's list-append, one key per operation): a few logical
 * processes append unique integers to a few `list` actors and read whole lists through
 * ActorProxy while the nemeses run. Every operation goes into the history as invoke → ok /
 * fail / info, with f `append` (value: the element) or `read` (ok value: the list), which is
 * what `checkListAppend` judges: lost, duplicated or reordered elements.
 */
import type { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import type { HistoryRecorder } from '../checkers/history.js';
import type { Prng } from './prng.js';
import { type ReadCall, recordRead, recordWrite } from './workload.js';

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

export const listRead: ReadCall<{ elements: unknown[] }> = {
  service: listService,
  method: 'read',
  value: (result) => result.elements,
};

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
    const element = this.nextElement++;
    this.operations++;
    await recordWrite(this.options.proxy, this.options.history, process, key, this.options.callDeadlineMs, {
      service: listService,
      method: 'append',
      f: 'append',
      arg: { element },
      value: element,
    });
  }

  read(process: number, key: string, deadlineMs: number): Promise<void> {
    this.operations++;
    return recordRead(this.options.proxy, this.options.history, process, key, deadlineMs, listRead);
  }
}
