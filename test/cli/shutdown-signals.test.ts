import { describe, expect, it } from 'vitest';
import { duplicateWindowMs, echoWindowMs, onShutdownSignal } from '../../cluster/cli/shutdown-signals.js';

describe('a node draining on a shutdown signal', () => {
  const sigint = { signal: 'SIGINT', atMs: 10_000 };
  const sigterm = { signal: 'SIGTERM', atMs: 10_000 };

  it.each([
    ['the first signal starts the drain', undefined, { signal: 'SIGTERM', atMs: 0 }, 'drain'],
    [
      "up's SIGTERM just after the terminal's SIGINT joins the drain",
      sigint,
      { signal: 'SIGTERM', atMs: sigint.atMs + 50 },
      'join-drain',
    ],
    [
      'a different signal at the edge of the window exits at once',
      sigint,
      { signal: 'SIGTERM', atMs: sigint.atMs + echoWindowMs },
      'exit-now',
    ],
    [
      "the kernel's parent-death SIGTERM again (one per exiting thread of a killed up, within ms) joins the drain",
      sigterm,
      { signal: 'SIGTERM', atMs: sigterm.atMs + 26 },
      'join-drain',
    ],
    [
      'the same signal at the edge of the duplicate window exits at once',
      sigterm,
      { signal: 'SIGTERM', atMs: sigterm.atMs + duplicateWindowMs },
      'exit-now',
    ],
    ['Ctrl-C pressed twice exits at once', sigint, { signal: 'SIGINT', atMs: sigint.atMs + 250 }, 'exit-now'],
    [
      "SIGTERM again 300 ms later (bench/actors.bench.ts's way to stop its nodes at once) exits at once",
      sigterm,
      { signal: 'SIGTERM', atMs: sigterm.atMs + 300 },
      'exit-now',
    ],
    [
      'SIGTERM twice from a supervisor exits at once',
      { signal: 'SIGTERM', atMs: 0 },
      { signal: 'SIGTERM', atMs: 30_000 },
      'exit-now',
    ],
  ] as const)('%s', (_name, first, next, decision) => {
    expect(onShutdownSignal(first, next)).toBe(decision);
  });
});
