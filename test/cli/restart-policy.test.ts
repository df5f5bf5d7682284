import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  defaultRestartPolicy,
  type RestartDecision,
  RestartPolicy,
  type RestartPolicyOptions,
} from '../../cluster/cli/restart-policy.js';
import { run } from '../../cluster/cli/up-command.js';
import { ManualClock } from '../../core/clock.js';

/** `up`'s node restart policy (cluster/cli/restart-policy.ts): pure, on an injected clock. */
const minuteMs = 60_000;

/** Exits at the given instants (ms from 0) against a fresh policy: the decisions, in order. */
function decisions(atMs: readonly number[], options: Partial<RestartPolicyOptions> = {}): RestartDecision[] {
  const clock = new ManualClock(0);
  const policy = new RestartPolicy({ ...defaultRestartPolicy, ...options }, clock);
  return atMs.map((t) => {
    clock.set(t);
    return policy.exited();
  });
}

const restart = (delayMs: number, n: number, of = 5): RestartDecision => ({
  action: 'restart',
  delayMs,
  restart: n,
  maxRestarts: of,
});
const giveUp = (restarts: number, windowMs = 10 * minuteMs): RestartDecision => ({
  action: 'give-up',
  restarts,
  windowMs,
});

describe('node restart policy', () => {
  it.each([
    {
      name: 'backoff doubles from 0.5 s per restart in the window, capped at 8 s',
      options: { maxRestarts: 7 },
      atMs: [0, 1_000, 3_000, 6_000, 11_000, 20_000, 30_000],
      expected: [500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000].map((d, i) => restart(d, i + 1, 7)),
    },
    {
      name: 'the bound: the exit after maxRestarts restarts within the window is given up on',
      options: {},
      atMs: [0, 1_000, 2_000, 3_000, 4_000, 5_000],
      expected: [...[500, 1_000, 2_000, 4_000, 8_000].map((d, i) => restart(d, i + 1)), giveUp(5)],
    },
    {
      name: 'the window slides: restarts older than 10 min no longer count, and the backoff falls back',
      options: { maxRestarts: 2 },
      atMs: [0, 5 * minuteMs, 10 * minuteMs + 1, 14 * minuteMs],
      // At 10 min + 1 ms the first restart left the window (one left: restart 2); at 14 min both
      // restarts at 5 and 10 min are inside it: bound.
      expected: [restart(500, 1, 2), restart(1_000, 2, 2), restart(1_000, 2, 2), giveUp(2)],
    },
    {
      name: 'a node that died once after a long run comes back at the shortest backoff',
      options: {},
      atMs: [0, 11 * minuteMs, 22 * minuteMs],
      expected: [restart(500, 1), restart(500, 1), restart(500, 1)],
    },
    {
      name: 'a restart exactly one window old has left it',
      options: { maxRestarts: 1 },
      atMs: [0, 10 * minuteMs],
      expected: [restart(500, 1, 1), restart(500, 1, 1)],
    },
    {
      name: 'maxRestarts 0 (--no-restart): never restarted',
      options: { maxRestarts: 0 },
      atMs: [0, 20 * minuteMs],
      expected: [{ action: 'disabled' }, { action: 'disabled' }],
    },
  ])('$name', ({ options, atMs, expected }) => {
    expect(decisions(atMs, options)).toEqual(expected);
  });

  it('given up stays given up, even once the window has slid past the restarts', () => {
    expect(decisions([0, 1_000, 60 * minuteMs], { maxRestarts: 1 })).toEqual([
      restart(500, 1, 1),
      giveUp(1),
      giveUp(0),
    ]);
  });

  it('no restart once up is stopping, whatever the count', () => {
    const clock = new ManualClock(0);
    const policy = new RestartPolicy(defaultRestartPolicy, clock);
    expect(policy.exited()).toEqual(restart(500, 1));
    expect(policy.stopping).toBe(false);
    policy.stop();
    expect(policy.stopping).toBe(true);
    clock.advance(20 * minuteMs);
    expect(policy.exited()).toEqual({ action: 'stopping' });
    expect(new RestartPolicy({ ...defaultRestartPolicy, maxRestarts: 0 }, clock).exited()).toEqual({
      action: 'disabled',
    });
    const off = new RestartPolicy({ ...defaultRestartPolicy, maxRestarts: 0 }, clock);
    off.stop();
    expect(off.exited()).toEqual({ action: 'stopping' });
  });

  it.each([
    { maxRestarts: -1 },
    { maxRestarts: 1.5 },
    { maxRestarts: 101 },
    { windowMs: 0 },
    { initialBackoffMs: 0 },
    { maxBackoffMs: 100 },
  ])('refuses a policy outside its bounds: %o', (bad) => {
    expect(() => new RestartPolicy({ ...defaultRestartPolicy, ...bad }, new ManualClock(0))).toThrow(
      expect.objectContaining({ code: 'MF_INVARIANT' }),
    );
  });
});

describe('up --max-node-restarts / --no-restart', () => {
  afterEach(() => vi.restoreAllMocks());
  it.each([
    { args: ['--max-node-restarts', 'x'], says: '--max-node-restarts must be an integer from 0 to 100' },
    { args: ['--max-node-restarts', '101'], says: '--max-node-restarts must be an integer from 0 to 100' },
    { args: ['--max-node-restarts', '1.5'], says: '--max-node-restarts must be an integer from 0 to 100' },
    { args: ['--max-node-restarts', '3', '--no-restart'], says: 'contradict each other' },
  ])('refuses $args before anything starts: exit 2, the error on stderr', async ({ args, says }) => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-restarts-'));
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    try {
      expect(await run(['--data', join(dir, 'data'), '--no-demo', ...args])).toBe(2);
      expect(stderr.join('')).toContain('[MF_CONFIG_INVALID]');
      expect(stderr.join('')).toContain(says);
      expect(existsSync(join(dir, 'data'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
