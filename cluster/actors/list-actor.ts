import { MeterfabricError } from '../../core/errors.js';
import type { ActorBehaviour } from './actor-definition.js';

/**
 * The runtime's list-append test service (the chaos suite's Elle-style workload): a list per
 * key. `append {element}` persists the element and returns the list's new length; `read`
 * returns the whole list. A retried append (same idempotency key) must not add it twice, which
 * is exactly what the list-append checker looks for.
 */
export type ListState = { elements: Array<string | number> };
export type ListEvent = { element: string | number };

/** Bounds: one list must stay a small actor state (it is replayed on every failover). */
export const maxListLength = 10_000;
const maxElementChars = 64;

function elementOf(arg: unknown): string | number {
  const element = (arg as { element?: unknown } | null)?.element;
  if (typeof element === 'number' && Number.isSafeInteger(element)) return element;
  if (typeof element === 'string' && element.length > 0 && element.length <= maxElementChars) return element;
  throw new MeterfabricError(
    'MF_BAD_REQUEST',
    `append needs {element}: a safe integer or a string of 1-${maxElementChars} characters`,
  );
}

export const listActor: ActorBehaviour<ListState, ListEvent> = {
  initialState: () => ({ elements: [] }),
  handle(state, method, arg) {
    switch (method) {
      case 'append': {
        const element = elementOf(arg);
        if (state.elements.length >= maxListLength) {
          throw new MeterfabricError('MF_LIST_FULL', `the list already holds ${maxListLength} elements`);
        }
        return { event: { element }, result: { length: state.elements.length + 1 } };
      }
      case 'read':
        return { result: { elements: state.elements } };
      default:
        throw new MeterfabricError('MF_UNKNOWN_METHOD', `list has no method "${method}" (use append, read)`);
    }
  },
  // A new array each time: a reply holding the old one must not see later appends.
  apply: (state, event) => ({ elements: [...state.elements, event.element] }),
};
