/**
 * The list-append workload (Elle's list-append, one key per operation): a few logical
 * processes append unique integers to a few `list` actors and read whole lists through
 * ActorProxy while the nemeses run. Every operation goes into the history as invoke → ok /
 * fail / info, with f `append` (value: the element) or `read` (ok value: the list), which is
 * what `checkListAppend` judges: lost, duplicated or reordered elements.
 */
import { ClientProcesses, type ReadCall, recordRead, recordWrite, type WorkloadOptions } from './workload.js';

export const listService = 'list';

export type ListWorkloadOptions = WorkloadOptions & { firstProcess: number };

export const listRead: ReadCall<{ elements: unknown[] }> = {
  service: listService,
  method: 'read',
  value: (result) => result.elements,
};

export class ListWorkload extends ClientProcesses {
  /** Elements are unique across the whole run (so certainly unique per key). */
  private nextElement = 1;

  constructor(options: ListWorkloadOptions) {
    super(options);
  }

  protected write(process: number, key: string): Promise<void> {
    return this.append(process, key);
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
