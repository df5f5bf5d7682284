import { describe, expect, it } from 'vitest';
import { backoffDelayMs, defaultBackoff } from '../../adapters/knx/backoff.js';

describe('reconnection backoff', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 2_000, noMoreConnectionsFactor: 4 };

  it('doubles per attempt between half and all of the ceiling, and stops at maxDelayMs', () => {
    const ceilings = [100, 200, 400, 800, 1_600, 2_000, 2_000];
    ceilings.forEach((ceiling, attempt) => {
      expect(backoffDelayMs(attempt, policy, false, () => 0)).toBe(ceiling / 2);
      expect(backoffDelayMs(attempt, policy, false, () => 0.999999)).toBe(ceiling);
    });
    // Huge attempt counts neither overflow nor exceed the cap.
    expect(backoffDelayMs(10_000, policy, false, () => 1)).toBe(2_000);
  });

  it('waits longer when the gateway had no free tunnel (E_NO_MORE_CONNECTIONS)', () => {
    expect(backoffDelayMs(0, policy, true, () => 0)).toBe(200);
    expect(backoffDelayMs(0, policy, false, () => 0)).toBe(50);
    expect(backoffDelayMs(3, policy, true, () => 1)).toBe(2_000);
  });

  it('is never zero with the defaults, even on the first attempt', () => {
    expect(backoffDelayMs(0, defaultBackoff, false, () => 0)).toBeGreaterThan(0);
  });
});
