import { describe, expect, it } from 'vitest';
import { HeadendError } from '../../actors/domain/errors.js';
import { hostedState, hostMachine } from '../../actors/hosting/outbox.js';
import { hostedMachines } from '../../actors/hosting/services.js';

/** A counter machine: `add` adds and echoes, `bad` is refused, `tick` reports the total. */
type Cmd = { type: 'add'; n: number } | { type: 'bad' } | { type: 'tick' };
const counter = hostMachine<{ total: number }, Cmd, string>(
  {
    initialState: () => ({ total: 0 }),
    apply(state, c) {
      if (c.type === 'bad') throw new HeadendError('MF_HEADEND_INVALID_INPUT', 'bad command');
      if (c.type === 'tick') return { state, effects: [`total=${state.total}`] };
      state.total += c.n;
      return { state, effects: [`+${c.n}`] };
    },
  },
  { tick: { type: 'tick' }, maxOutboxEntries: 3 },
);

describe('hosted outbox (actors/hosting/outbox.ts)', () => {
  it('keeps the effects of a call as one outbox entry until acknowledged', () => {
    const s = counter.initialState('k');
    const first = counter.apply(
      s,
      { type: 'deliver', deliveries: [{ from: 'a', seq: 1, commands: [{ type: 'add', n: 2 }] }] },
      0,
    );
    expect(first.effects).toEqual([{ id: 1, effects: ['+2', 'total=2'] }]);
    counter.apply(
      s,
      { type: 'deliver', deliveries: [{ from: 'a', seq: 2, commands: [{ type: 'add', n: 3 }] }] },
      0,
    );
    expect(s.outbox.map((e) => e.id)).toEqual([1, 2]);
    counter.apply(s, { type: 'deliver', deliveries: [], ack: [1] }, 0);
    expect(s.outbox.map((e) => e.id)).toEqual([2]);
    expect(counter.read?.(s, { type: 'outbox' })).toEqual([{ id: 2, effects: ['+3', 'total=5'] }]);
  });

  it('drops a delivery at or below its source high-water mark (a re-sent delivery changes nothing)', () => {
    const s = counter.initialState('k');
    counter.apply(
      s,
      { type: 'deliver', deliveries: [{ from: 'a', seq: 5, commands: [{ type: 'add', n: 1 }] }] },
      0,
    );
    const again = counter.apply(
      s,
      {
        type: 'deliver',
        deliveries: [
          { from: 'a', seq: 5, commands: [{ type: 'add', n: 1 }] },
          { from: 'a', seq: 4, commands: [{ type: 'add', n: 1 }] },
        ],
      },
      0,
    );
    expect(again.effects).toEqual([]);
    expect(s.inner.total).toBe(1);
    // Another source has its own mark.
    counter.apply(
      s,
      { type: 'deliver', deliveries: [{ from: 'b', seq: 1, commands: [{ type: 'add', n: 1 }] }] },
      0,
    );
    expect(s.inner.total).toBe(2);
    expect(s.seen).toEqual({ a: 5, b: 1 });
  });

  it('reports a refused command in the entry and applies the rest of the batch', () => {
    const s = counter.initialState('k');
    const { effects } = counter.apply(
      s,
      { type: 'deliver', deliveries: [{ commands: [{ type: 'bad' }, { type: 'add', n: 4 }] }] },
      0,
    );
    expect(effects[0]?.refused).toEqual([{ code: 'MF_HEADEND_INVALID_INPUT', message: 'bad command' }]);
    expect(effects[0]?.effects).toEqual(['+4', 'total=4']);
  });

  it('refuses a call while the outbox is full, changing nothing, and accepts it once acknowledged', () => {
    const s = counter.initialState('k');
    for (let i = 1; i <= 3; i++)
      counter.apply(s, { type: 'deliver', deliveries: [{ commands: [{ type: 'add', n: 1 }] }] }, 0);
    const before = structuredClone(s);
    expect(() =>
      counter.apply(
        s,
        { type: 'deliver', deliveries: [{ from: 'a', seq: 1, commands: [{ type: 'add', n: 1 }] }] },
        0,
      ),
    ).toThrow(/3 outbox entries are not acknowledged/);
    expect(s).toEqual(before);
    counter.apply(
      s,
      { type: 'deliver', deliveries: [{ from: 'a', seq: 1, commands: [{ type: 'add', n: 1 }] }], ack: [1] },
      0,
    );
    expect(s.inner.total).toBe(4);
  });

  it('refuses malformed calls with a clear error', () => {
    const s = hostedState<{ total: number }, string>({ total: 0 });
    expect(() => counter.apply(s, { type: 'outbox' }, 0)).toThrow(/read, not a change/);
    expect(() => counter.apply(s, { type: 'deliver', deliveries: 'x' } as never, 0)).toThrow(
      /list of deliveries/,
    );
    expect(() => counter.apply(s, { type: 'deliver', deliveries: [{ commands: 'x' }] } as never, 0)).toThrow(
      /commands must be a list/,
    );
    expect(() => counter.apply(s, { type: 'deliver', deliveries: [], ack: ['1'] } as never, 0)).toThrow(
      /ack takes entry ids/,
    );
    expect(s.inner.total).toBe(0);
  });

  it('a full device queue fails the attempt (retryable) instead of refusing it', () => {
    const device = hostedMachines.device;
    const s = device.initialState('demo/TD-1');
    expect(s.inner.concentratorId).toBe('TD-1');
    const job = (i: number) => ({
      id: `lp:${i}`,
      kind: 'loadProfile' as const,
      priority: 'normal' as const,
      concentratorId: 'TD-1',
      meterSerials: [],
      params: { kind: 'loadProfile' as const },
      submittedAtMs: 0,
      deadlineMs: 1e12,
      maxAttempts: 3,
    });
    const requests = Array.from({ length: s.inner.config.maxQueuedRequests + 2 }, (_, i) => ({
      type: 'request' as const,
      job: job(i),
      attempt: 1,
    }));
    const { effects } = device.apply(s, { type: 'deliver', deliveries: [{ commands: requests }] }, 0);
    const failed = effects[0]!.effects.filter((e) => e.type === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ errorCode: 'MF_HEADEND_DEVICE_BUSY', retryable: true });
  });
});
