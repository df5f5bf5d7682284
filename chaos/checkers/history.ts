/**
 * Operation histories, Jepsen style: every client operation is an `invoke` followed by exactly
 * one completion: `ok` (it happened), `fail` (it certainly did not happen) or `info` (unknown:
 * timed out, connection lost; it may or may not have happened). Pure: the file I/O is in
 * `history-file.ts`.
 */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

export type HistoryEvent = {
  /** Position in the history (0, 1, 2, ...). */
  index: number;
  /** The client (logical process) that issued the operation; one operation at a time each. */
  process: number;
  type: OpType;
  /** The function: 'increment', 'read', 'append', ... */
  f: string;
  /** The key (actor, list) the operation is about. */
  key: string;
  /** invoke: the argument; ok: the result. */
  value: unknown;
  /** Wall-clock ms (Date.now) when recorded. */
  timeMs: number;
  /** For fail/info: what went wrong. */
  error?: string;
};

/** One operation: its invocation and its completion (absent when the run ended first = unknown). */
export type Operation = {
  process: number;
  f: string;
  key: string;
  invoke: HistoryEvent;
  completion: HistoryEvent | undefined;
  outcome: 'ok' | 'fail' | 'unknown';
};

/** A violated promise, with the events that show it. */
export type Anomaly = {
  checker: string;
  kind: string;
  message: string;
  evidence: unknown;
};

export type CheckResult = {
  checker: string;
  valid: boolean;
  anomalies: Anomaly[];
  /** Counts that show the check was not vacuous (operations examined etc.). */
  stats: Record<string, number>;
};

export function checkResult(
  checker: string,
  anomalies: Anomaly[],
  stats: Record<string, number>,
): CheckResult {
  return { checker, valid: anomalies.length === 0, anomalies, stats };
}

/**
 * Builds histories in memory with the invariants enforced: a process has at most one
 * operation in flight, and every completion matches an invocation.
 */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  private readonly inFlight = new Map<number, HistoryEvent>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly onEvent: (event: HistoryEvent) => void = () => {},
  ) {}

  invoke(process: number, f: string, key: string, value: unknown): HistoryEvent {
    if (this.inFlight.has(process)) throw new Error(`process ${process} already has an operation in flight`);
    const event = this.append({ process, type: 'invoke', f, key, value });
    this.inFlight.set(process, event);
    return event;
  }

  complete(process: number, type: 'ok' | 'fail' | 'info', value: unknown, error?: string): HistoryEvent {
    const invoke = this.inFlight.get(process);
    if (!invoke) throw new Error(`process ${process} has no operation in flight`);
    this.inFlight.delete(process);
    return this.append({ process, type, f: invoke.f, key: invoke.key, value, ...(error ? { error } : {}) });
  }

  private append(partial: Omit<HistoryEvent, 'index' | 'timeMs'>): HistoryEvent {
    const event: HistoryEvent = { index: this.events.length, timeMs: this.now(), ...partial };
    this.events.push(event);
    this.onEvent(event);
    return event;
  }
}

/** Pairs invocations with completions per process. Unpaired invocations are `unknown`. */
export function pairOperations(history: readonly HistoryEvent[]): Operation[] {
  const open = new Map<number, Operation>();
  const operations: Operation[] = [];
  for (const event of history) {
    if (event.type === 'invoke') {
      const previous = open.get(event.process);
      if (previous) previous.outcome = 'unknown';
      const operation: Operation = {
        process: event.process,
        f: event.f,
        key: event.key,
        invoke: event,
        completion: undefined,
        outcome: 'unknown',
      };
      open.set(event.process, operation);
      operations.push(operation);
      continue;
    }
    const operation = open.get(event.process);
    if (!operation) continue;
    open.delete(event.process);
    operation.completion = event;
    operation.outcome = event.type === 'ok' ? 'ok' : event.type === 'fail' ? 'fail' : 'unknown';
  }
  return operations;
}
