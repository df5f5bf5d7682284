/**
 * The runtime's list-append test service as a pure behaviour: appends persist the element and
 * return the new length, reads return the list, and bad input is refused with a typed error
 * before anything would be persisted.
 */
import { describe, expect, it } from 'vitest';
import { listActor, maxListLength } from '../../cluster/actors/list-actor.js';

const ctx = { key: 'k', nowMs: 0 };

describe('list actor', () => {
  it('append persists the element and returns the new length; read returns the list in append order', () => {
    let state = listActor.initialState('k');
    for (const element of [3, 'b', 1]) {
      const decision = listActor.handle(state, 'append', { element }, ctx);
      expect(decision.event).toEqual({ element });
      expect(decision.result).toEqual({ length: state.elements.length + 1 });
      state = listActor.apply(state, decision.event as { element: string | number });
    }
    const read = listActor.handle(state, 'read', null, ctx);
    expect(read.event).toBeUndefined();
    expect(read.result).toEqual({ elements: [3, 'b', 1] });
  });

  it('a reply keeps the list it read, even after later appends', () => {
    const state = listActor.apply(listActor.initialState('k'), { element: 1 });
    const reply = listActor.handle(state, 'read', null, ctx).result as { elements: unknown[] };
    listActor.apply(state, { element: 2 });
    expect(reply.elements).toEqual([1]);
  });

  it('refuses elements that are not safe integers or short strings, and unknown methods', () => {
    const state = listActor.initialState('k');
    for (const arg of [
      null,
      {},
      { element: 1.5 },
      { element: '' },
      { element: 'x'.repeat(65) },
      { element: [1] },
    ]) {
      expect(() => listActor.handle(state, 'append', arg, ctx)).toThrow(
        expect.objectContaining({ code: 'MF_BAD_REQUEST' }),
      );
    }
    expect(() => listActor.handle(state, 'pop', null, ctx)).toThrow(
      expect.objectContaining({ code: 'MF_UNKNOWN_METHOD' }),
    );
  });

  it(`a full list (${maxListLength} elements) refuses further appends and keeps what it holds`, () => {
    const state = { elements: Array.from({ length: maxListLength }, (_, i) => i) };
    expect(() => listActor.handle(state, 'append', { element: -1 }, ctx)).toThrow(
      expect.objectContaining({ code: 'MF_LIST_FULL' }),
    );
    expect(state.elements).toHaveLength(maxListLength);
    expect(state.elements.at(-1)).toBe(maxListLength - 1);
  });
});
