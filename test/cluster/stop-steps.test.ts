import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runStopStep, stopStepTimeoutMs } from '../../cluster/node/stop-steps.js';
import { capturingLogger } from '../support/capturing-logger.js';

describe('runStopStep (one network step of ClusterNode.stop)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives up on a step that never finishes after its bound, and logs the step by name', async () => {
    const { logger, lines } = capturingLogger();
    let finished: boolean | undefined;
    void runStopStep(
      logger,
      'membership close (etcd watch, lease revoke)',
      () => new Promise(() => undefined),
    ).then((f) => {
      finished = f;
    });
    await vi.advanceTimersByTimeAsync(stopStepTimeoutMs - 1);
    expect(finished).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(finished).toBe(false);
    expect(lines()).toMatchObject([
      {
        level: 40,
        step: 'membership close (etcd watch, lease revoke)',
        timeoutMs: stopStepTimeoutMs,
        msg: 'stop: membership close (etcd watch, lease revoke) did not finish within 2000 ms; going on',
      },
    ]);
  });

  it('a step that finishes logs nothing; one that fails, or throws before it starts, is logged and does not reject', async () => {
    const { logger, lines } = capturingLogger();
    expect(await runStopStep(logger, 'FM election close (etcd watch)', async () => undefined)).toBe(true);
    expect(lines()).toEqual([]);
    expect(
      await runStopStep(logger, 'extension bridge stop', () => Promise.reject(new Error('port gone')), 5_000),
    ).toBe(false);
    expect(
      await runStopStep(logger, 'configuration watch cancel (etcd)', () => {
        throw new Error('not started');
      }),
    ).toBe(false);
    expect(lines()).toMatchObject([
      {
        level: 40,
        step: 'extension bridge stop',
        err: 'Error: port gone',
        msg: 'stop: extension bridge stop failed',
      },
      {
        level: 40,
        step: 'configuration watch cancel (etcd)',
        err: 'Error: not started',
        msg: 'stop: configuration watch cancel (etcd) failed',
      },
    ]);
  });
});
