import { describe, expect, it } from 'vitest';
import { type DrainState, drainStep } from '../../cluster/node/drain.js';

/** cluster/node/drain.ts: when a drain stops waiting for its primaries to move. */
const waiting: DrainState = {
  mark: 'written',
  ownsPrimaries: true,
  takers: 2,
  leaseValid: true,
  nowMs: 1_000,
  deadlineMs: 21_000,
};

describe('drainStep', () => {
  it.each<[string, Partial<DrainState>, ReturnType<typeof drainStep>]>([
    // etcd answering, lease valid: the drain as it always was.
    ['primaries still here, a taker, within the bound', {}, 'wait'],
    ['no primary left', { ownsPrimaries: false }, 'handed-over'],
    ['nobody to take them', { takers: 0 }, 'no-taker'],
    ['bound passed', { nowMs: 21_001 }, 'timed-out'],
    ['at the bound exactly: one more look', { nowMs: 21_000 }, 'wait'],
    // etcd cannot carry the handover: stop at once, well before the bound.
    ['lease no longer valid', { leaseValid: false }, 'lease-lost'],
    ['lease lost before the mark got an answer', { mark: 'pending', leaseValid: false }, 'lease-lost'],
    ['mark refused', { mark: 'failed' }, 'not-marked'],
    [
      'mark refused, lease still valid, primaries gone',
      { mark: 'failed', ownsPrimaries: false },
      'not-marked',
    ],
    // The mark on its way: nothing is decided from primaries or takers before etcd has it.
    ['mark pending, lease valid', { mark: 'pending' }, 'wait'],
    ['mark pending, no primaries, no takers', { mark: 'pending', ownsPrimaries: false, takers: 0 }, 'wait'],
    ['mark pending past the bound', { mark: 'pending', nowMs: 30_000 }, 'timed-out'],
    // Reasons that held before keep their precedence over the lease.
    ['handed over as the lease lapses', { ownsPrimaries: false, leaseValid: false }, 'handed-over'],
    ['no taker as the lease lapses', { takers: 0, leaseValid: false }, 'no-taker'],
    ['lease lost past the bound', { leaseValid: false, nowMs: 30_000 }, 'lease-lost'],
  ])('%s', (_name, change, expected) => {
    expect(drainStep({ ...waiting, ...change })).toBe(expected);
  });
});
