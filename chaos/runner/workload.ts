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
  processes: number;
  keys: readonly string[];
  /** Whole-call deadline; ActorProxy retries (same idempotency key) inside it. */
  callDeadlineMs: number;
  /** Pause between one process's operations. */
  thinkMs: number;
  readFraction: number;
};

export class CounterWorkload {
  private running = false;
  private loops: Promise<void>[] = [];
  operations = 0;

  constructor(private readonly options: WorkloadOptions) {}

  start(): void {
    this.running = true;
    for (let p = 0; p < this.options.processes; p++) this.loops.push(this.loop(p, this.options.rng.fork()));
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
      else await this.increment(process, key);
      await new Promise((r) => setTimeout(r, this.options.thinkMs));
    }
  }

  private async increment(process: number, key: string): Promise<void> {
    const { history, proxy } = this.options;
    history.invoke(process, 'increment', key, { by: 1 });
    this.operations++;
    try {
      const result = await proxy.call<{ value: number }>(
        'counter',
        key,
        'increment',
        { by: 1 },
        {
          deadlineMs: this.options.callDeadlineMs,
        },
      );
      history.complete(process, 'ok', result);
    } catch (err) {
      const code = isMeterfabricError(err) ? err.code : 'MF_UNKNOWN';
      history.complete(
        process,
        definiteFailures.has(code) ? 'fail' : 'info',
        null,
        `${code}: ${String((err as Error).message)}`,
      );
    }
  }

  read(process: number, key: string, deadlineMs: number): Promise<void> {
    this.operations++;
    return recordRead(this.options.proxy, this.options.history, process, key, deadlineMs);
  }
}

/** A read is `get`; a failed read changes nothing, so it is recorded as fail. */
export async function recordRead(
  proxy: ActorProxy,
  history: HistoryRecorder,
  process: number,
  key: string,
  deadlineMs: number,
): Promise<void> {
  history.invoke(process, 'read', key, null);
  try {
    const result = await proxy.call<{ value: number }>('counter', key, 'get', null, { deadlineMs });
    history.complete(process, 'ok', { value: result.value });
  } catch (err) {
    const code = isMeterfabricError(err) ? err.code : 'MF_UNKNOWN';
    history.complete(process, 'fail', null, `${code}: ${String((err as Error).message)}`);
  }
}
