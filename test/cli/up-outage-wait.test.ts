import { describe, expect, it } from 'vitest';
import { OutageWaiter } from '../../actors/demo/outage-wait.js';
import { MeterfabricError } from '../../core/errors.js';

/**
 * The waiting logic of `up`'s demo day (actors/demo/outage-wait.ts) on calls scripted to fail
 * as the cluster's do during an outage; test/cli/up-outage-wait.int.test.ts runs it against a
 * real cluster in quorum loss.
 */
function waiter(maxWaitMs: number, lines: string[], signal?: AbortSignal): OutageWaiter {
  return new OutageWaiter({
    maxWaitMs,
    say: (l) => lines.push(l),
    retryDelayMs: 10,
    progressEveryMs: 0,
    ...(signal ? { signal } : {}),
  });
}

describe('OutageWaiter', () => {
  it('retries a call failing with outage codes until it succeeds, showing progress, then says the day carries on', async () => {
    const lines: string[] = [];
    const w = waiter(60_000, lines);
    const codes = ['MF_QUORUM_LOSS', 'MF_DEADLINE', 'MF_NOT_PRIMARY'];
    let calls = 0;
    const result = await w.run('counter/k', async () => {
      const code = codes[calls++];
      if (code) throw new MeterfabricError(code, `scripted ${code}`);
      return 42;
    });
    expect(result).toBe(42);
    expect(calls).toBe(4);
    expect(lines.filter((l) => l.startsWith('waiting for the cluster:'))).toHaveLength(3);
    expect(lines[0]).toContain('MF_QUORUM_LOSS on counter/k');
    expect(lines.at(-1)).toMatch(/^cluster answering again after [\d.]+ s; the day carries on$/);
    expect(w.waits).toMatchObject({ outages: 1, retries: 3 });
  });

  it('gives up once the outage has lasted the bound: MF_CLUSTER_UNAVAILABLE naming the bound and the last error', async () => {
    const lines: string[] = [];
    let calls = 0;
    const err = await waiter(300, lines)
      .run('device/c1', async () => {
        calls++;
        throw new MeterfabricError('MF_NO_WRITE_QUORUM', 'no quorum');
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'MF_CLUSTER_UNAVAILABLE',
      details: { lastCode: 'MF_NO_WRITE_QUORUM' },
    });
    expect((err as Error).message).toContain('the bound is 0.3 s, up --max-wait-seconds');
    expect((err as Error).message).toContain('MF_NO_WRITE_QUORUM on device/c1');
    expect(calls).toBeGreaterThan(1);
  });

  it('an error that is not an outage (bad input, a refused store) passes through at once, not retried', async () => {
    let calls = 0;
    const err = await waiter(60_000, [])
      .run('device/c1', async () => {
        calls++;
        throw new MeterfabricError('MF_PERSISTED_FORMAT', 'store refused');
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MF_PERSISTED_FORMAT' });
    expect(calls).toBe(1);
  });

  it('Ctrl-C (the abort signal) ends a wait at once', async () => {
    const abort = new AbortController();
    let calls = 0;
    const waiting = waiter(600_000, [], abort.signal).run('device/c1', async () => {
      if (++calls === 2) abort.abort(new Error('interrupted'));
      throw new MeterfabricError('MF_QUORUM_LOSS', 'lost');
    });
    await expect(waiting).rejects.toThrow('interrupted');
  });
});
