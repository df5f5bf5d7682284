/**
 * The client workload: a few logical processes (Jepsen's "processes"), each with one
 * operation in flight, incrementing and reading counter actors through ActorProxy while the
 * nemeses run. Every operation goes into the history as invoke → ok / fail / info.
 *
 * Classification is conservative: only errors that prove the call never ran are `fail`;
 * anything else (deadline, unavailable, connection lost) is `info` — unknown — because the
 * call may have committed before the error.
 */
import type { ActorProxy } from '../../cluster/actors/actor-proxy.js';
import { isMeterfabricError } from '../../core/errors.js';
import type { HistoryRecorder } from '../checkers/history.js';
import type { Prng } from './prng.js';

/** Errors raised before the call reached an actor: it certainly did not run. */
export const definiteFailures: ReadonlySet<string> = new Set([
  'MF_BAD_REQUEST',
  'MF_UNKNOWN_METHOD',
  'MF_UNKNOWN_SERVICE',
  'MF_PAYLOAD_TOO_LARGE',
]);

export type WorkloadOptions = {
  proxy: ActorProxy;
  history: HistoryRecorder;
  rng: Prng;
  /** History process ids [firstProcess, firstProcess + processes): disjoint from other workloads'. */
  firstProcess?: number;
  processes: number;
  keys: readonly string[];
  /** Whole-call deadline; ActorProxy retries (same idempotency key) inside it. */
  callDeadlineMs: number;
  /** Pause between one process's operations. */
  thinkMs: number;
  readFraction: number;
};

/**
 * Logical client processes (Jepsen's), each with one operation in flight on a random key: a
 * read with probability `readFraction`, else the workload's write. Subclasses say what a
 * read and a write are.
 */
export abstract class ClientProcesses {
  private running = false;
  private loops: Promise<void>[] = [];
  operations = 0;

  constructor(protected readonly options: WorkloadOptions) {}

  start(): void {
    this.running = true;
    const first = this.options.firstProcess ?? 0;
    for (let p = 0; p < this.options.processes; p++)
      this.loops.push(this.loop(first + p, this.options.rng.fork()));
  }

  /** Lets every in-flight operation complete (or time out), then returns. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  abstract read(process: number, key: string, deadlineMs: number): Promise<void>;
  protected abstract write(process: number, key: string): Promise<void>;

  private async loop(process: number, rng: Prng): Promise<void> {
    while (this.running) {
      const key = rng.pick(this.options.keys);
      if (rng.next() < this.options.readFraction) await this.read(process, key, this.options.callDeadlineMs);
      else await this.write(process, key);
      await new Promise((r) => setTimeout(r, this.options.thinkMs));
    }
  }
}

/** Increments (`by: 1`) and reads of counter actors. */
export class CounterWorkload extends ClientProcesses {
  protected async write(process: number, key: string): Promise<void> {
    this.operations++;
    await recordWrite(this.options.proxy, this.options.history, process, key, this.options.callDeadlineMs, {
      service: 'counter',
      method: 'increment',
      f: 'increment',
      arg: { by: 1 },
    });
  }

  read(process: number, key: string, deadlineMs: number): Promise<void> {
    this.operations++;
    return recordRead(this.options.proxy, this.options.history, process, key, deadlineMs, counterRead);
  }
}

/** `code: message` of a call's error, for the history. */
export function errorText(err: unknown): { code: string; text: string } {
  const code = isMeterfabricError(err) ? err.code : 'MF_UNKNOWN';
  return { code, text: `${code}: ${String((err as Error).message)}` };
}

/** Which actor method reads a key, and what of its result the history records. */
export type ReadCall<Result> = { service: string; method: string; value: (result: Result) => unknown };

export const counterRead: ReadCall<{ value: number }> = {
  service: 'counter',
  method: 'get',
  value: (result) => ({ value: result.value }),
};

/** A read (invoke, call, complete); it changes nothing, so a failed one is recorded as fail. */
export async function recordRead<Result>(
  proxy: ActorProxy,
  history: HistoryRecorder,
  process: number,
  key: string,
  deadlineMs: number,
  call: ReadCall<Result>,
): Promise<void> {
  history.invoke(process, 'read', key, null);
  try {
    const result = await proxy.call<Result>(call.service, key, call.method, null, { deadlineMs });
    history.complete(process, 'ok', call.value(result));
  } catch (err) {
    history.complete(process, 'fail', null, errorText(err).text);
  }
}

/** A write: history op `f` with `value`, the actor call `method(arg)`; ok records its result. */
export type WriteCall = { service: string; method: string; f: string; arg: unknown; value?: unknown };

/**
 * A write (invoke, call, complete). Only a refusal before the actor ran is a certain failure;
 * any other error is `info` (unknown): the call may have committed before it.
 */
export async function recordWrite(
  proxy: ActorProxy,
  history: HistoryRecorder,
  process: number,
  key: string,
  deadlineMs: number,
  call: WriteCall,
): Promise<void> {
  history.invoke(process, call.f, key, call.value ?? call.arg);
  try {
    const result = await proxy.call(call.service, key, call.method, call.arg, { deadlineMs });
    history.complete(process, 'ok', result);
  } catch (err) {
    const { code, text } = errorText(err);
    history.complete(process, definiteFailures.has(code) ? 'fail' : 'info', null, text);
  }
}
