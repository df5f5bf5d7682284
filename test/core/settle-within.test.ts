import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { settleWithin } from '../../core/settle-within.js';

describe('settleWithin', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports a promise that never settles as timed out once the bound has passed, not before', async () => {
    let result: unknown;
    void settleWithin(new Promise<never>(() => undefined), 2_000).then((r) => {
      result = r;
    });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toEqual({ status: 'timed-out' });
  });

  it('reports a value or a rejection within the bound as Promise.allSettled does, and clears its timer', async () => {
    await expect(settleWithin(Promise.resolve(7), 2_000)).resolves.toEqual({ status: 'fulfilled', value: 7 });
    const refused = new Error('refused');
    await expect(settleWithin(Promise.reject(refused), 2_000)).resolves.toEqual({
      status: 'rejected',
      reason: refused,
    });
    // A pending bound would keep a stopping process alive for its length.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses a bound a Node timer cannot keep', async () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 31])
      await expect(settleWithin(Promise.resolve(), bad), String(bad)).rejects.toThrow(RangeError);
  });
});
