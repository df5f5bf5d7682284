import { describe, expect, it } from 'vitest';
import { commandActor } from '../../actors/hosting/command-actor.js';
import {
  deviceActor,
  jobKindOfPartitionName,
  jobsManagerActor,
  workerActor,
} from '../../actors/hosting/services.js';
import { job, t0 } from './job-fixtures.js';

describe('head-end state machines as event-sourced actors', () => {
  it('handle decides on a copy: the state is unchanged until the event is applied', () => {
    const state = jobsManagerActor.initialState('0');
    const before = structuredClone(state);
    const decision = jobsManagerActor.handle(
      state,
      'command',
      { command: { type: 'submit', job: job('a') } },
      { key: '0', nowMs: t0 },
    );
    expect(state).toEqual(before);
    expect(decision.event).toEqual({ command: { type: 'submit', job: job('a') }, nowMs: t0 });
    const after = jobsManagerActor.apply(state, decision.event!);
    expect(Object.keys(after.entries)).toEqual(['a']);
  });

  it('replaying the persisted events on a fresh state rebuilds the same state (a new primary)', () => {
    let primary = jobsManagerActor.initialState('0');
    const log: unknown[] = [];
    const commands = [
      { type: 'submit', job: job('a') },
      { type: 'submit', job: job('b', { priority: 'high' }) },
      { type: 'tick' },
      { type: 'attemptResult', jobId: 'b', attempt: 1, result: { ok: true } },
      { type: 'tick' },
    ];
    for (const [i, command] of commands.entries()) {
      const decision = jobsManagerActor.handle(
        primary,
        'command',
        { command, atMs: t0 + i },
        { key: '0', nowMs: 0 },
      );
      if (decision.event) {
        log.push(structuredClone(decision.event));
        primary = jobsManagerActor.apply(primary, decision.event);
      }
    }
    let replica = jobsManagerActor.initialState('0');
    for (const event of log) replica = jobsManagerActor.apply(replica, event as never);
    expect(replica).toEqual(primary);
    expect(replica.outcomes.b).toMatchObject({ status: 'succeeded' });
  });

  it('a refused command throws from handle and yields no event', () => {
    const state = deviceActor.initialState('C1');
    expect(() =>
      commandActor({
        initialState: () => ({}),
        apply: () => {
          throw new Error('refused');
        },
      }).handle(state, 'command', { command: {} }, { key: 'C1', nowMs: t0 }),
    ).toThrow('refused');
    expect(() => deviceActor.handle(state, 'nope', {}, { key: 'C1', nowMs: t0 })).toThrow(
      expect.objectContaining({ code: 'MF_UNKNOWN_METHOD' }),
    );
  });

  it('keys workers by the lower-case partition names of the manifest', () => {
    expect(jobKindOfPartitionName('loadprofile')).toBe('loadProfile');
    expect(workerActor.initialState('devicecontrol').kind).toBe('deviceControl');
    expect(() => jobKindOfPartitionName('teleport')).toThrow(
      expect.objectContaining({ code: 'MF_UNKNOWN_WORKER' }),
    );
  });
});
