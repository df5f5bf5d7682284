import { MeterfabricError } from '../../core/errors.js';
import type { ActorBehaviour } from './actor-definition.js';

/**
 * The runtime's own test service: a counter per key. `increment {by}` persists and returns the
 * new value; `get` reads; `remind {name, dueAtMs, by}` registers a durable reminder that
 * increments the counter when it fires; `incrementAndRemind {name, dueAtMs, by}` increments now
 * and registers that reminder in the same decision; `tick {afterMs, by}` a volatile timer that does. Used by the acceptance tests and benchmarks.
 */
export type CounterState = { value: number; increments: number };
export type CounterEvent = { by: number };

const maxIncrement = 1_000_000;

function incrementOf(arg: unknown): number {
  const by = (arg as { by?: unknown } | null)?.by ?? 1;
  if (typeof by !== 'number' || !Number.isInteger(by) || Math.abs(by) > maxIncrement) {
    throw new MeterfabricError('MF_BAD_REQUEST', `increment "by" must be an integer within ±${maxIncrement}`);
  }
  return by;
}

export const counterActor: ActorBehaviour<CounterState, CounterEvent> = {
  initialState: () => ({ value: 0, increments: 0 }),
  handle(state, method, arg) {
    switch (method) {
      case 'increment': {
        const by = incrementOf(arg);
        return { event: { by }, result: { value: state.value + by } };
      }
      case 'get':
        return { result: { value: state.value, increments: state.increments } };
      case 'remind': {
        const a = (arg ?? {}) as { name?: unknown; dueAtMs?: unknown; by?: unknown };
        if (typeof a.name !== 'string' || typeof a.dueAtMs !== 'number') {
          throw new MeterfabricError(
            'MF_BAD_REQUEST',
            'remind needs {name: string, dueAtMs: number, by?: number}',
          );
        }
        return {
          result: { scheduled: a.name },
          reminders: [{ name: a.name, dueAtMs: a.dueAtMs, method: 'increment', arg: { by: incrementOf(a) } }],
        };
      }
      case 'incrementAndRemind': {
        // An event and a reminder from one decision: committed in one replicated operation.
        const a = (arg ?? {}) as { name?: unknown; dueAtMs?: unknown; by?: unknown };
        if (typeof a.name !== 'string' || typeof a.dueAtMs !== 'number') {
          throw new MeterfabricError(
            'MF_BAD_REQUEST',
            'incrementAndRemind needs {name: string, dueAtMs: number, by?: number}',
          );
        }
        const by = incrementOf(a);
        return {
          event: { by },
          result: { value: state.value + by },
          reminders: [{ name: a.name, dueAtMs: a.dueAtMs, method: 'increment', arg: { by } }],
        };
      }
      case 'tick': {
        const a = (arg ?? {}) as { afterMs?: unknown; by?: unknown };
        if (typeof a.afterMs !== 'number' || a.afterMs < 0) {
          throw new MeterfabricError('MF_BAD_REQUEST', 'tick needs {afterMs: number >= 0, by?: number}');
        }
        return {
          result: { armed: true },
          timers: [{ name: 'tick', afterMs: a.afterMs, method: 'increment', arg: { by: incrementOf(a) } }],
        };
      }
      case 'forward': {
        // Increments this counter and, once that is committed, the counter `to` (an outbox send).
        const a = (arg ?? {}) as { to?: unknown; by?: unknown; id?: unknown };
        if (typeof a.to !== 'string' || typeof a.id !== 'string') {
          throw new MeterfabricError('MF_BAD_REQUEST', 'forward needs {to: string, id: string, by?: number}');
        }
        const by = incrementOf(a);
        return {
          event: { by },
          result: { value: state.value + by },
          sends: [
            {
              service: 'counter',
              key: a.to,
              method: 'increment',
              arg: { by },
              idempotencyKey: `forward:${a.id}`,
            },
          ],
        };
      }
      default:
        throw new MeterfabricError(
          'MF_UNKNOWN_METHOD',
          `counter has no method "${method}" (use increment, get, remind, incrementAndRemind, tick, forward)`,
        );
    }
  },
  apply: (state, event) => ({ value: state.value + event.by, increments: state.increments + 1 }),
};
