import { EtcdPermissionDeniedError, GRPCUnavailableError } from 'etcd3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EtcdJoinDeadline } from '../../cluster/node/start-steps.js';
import { isMeterfabricError } from '../../core/errors.js';

const never = (): Promise<never> => new Promise<never>(() => undefined);
const answerAfter = <T>(ms: number, value: T): Promise<T> =>
  new Promise((r) => setTimeout(() => r(value), ms));

describe('EtcdJoinDeadline (the etcd steps of ClusterNode.start)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives a step that answers its value, and a step that fails its own error', async () => {
    const joining = new EtcdJoinDeadline(['127.0.0.1:2379'], 1_000);
    const answered = joining.step('configuration watch', () => answerAfter(10, 'watching'));
    await vi.advanceTimersByTimeAsync(10);
    await expect(answered).resolves.toBe('watching');
    // etcd answered: the request was refused, etcd is reachable.
    const denied = new EtcdPermissionDeniedError('etcdserver: permission denied');
    await expect(joining.step('configuration watch', () => Promise.reject(denied))).rejects.toBe(denied);
  });

  it('an etcd that cannot be reached (connection refused, circuit breaker open) fails the step at once with MF_ETCD_UNREACHABLE', async () => {
    const joining = new EtcdJoinDeadline(['127.0.0.1:2379'], 30_000);
    const refused = new GRPCUnavailableError('14 UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:2379');
    const broken = Object.assign(new Error('Execution prevented because the circuit breaker is open'), {
      isBrokenCircuitError: true,
    });
    for (const cause of [refused, broken]) {
      const err = await joining
        .step('membership (lease grant, registration, member watch)', () => Promise.reject(cause))
        .catch((e: unknown) => e);
      expect(isMeterfabricError(err) && err.code).toBe('MF_ETCD_UNREACHABLE');
      expect((err as Error).message).toContain(
        `cannot reach etcd at 127.0.0.1:2379 while this node was joining (step: membership (lease grant, registration, member watch)): ${cause.message}`,
      );
      expect((err as Error).cause).toBe(cause);
    }
  });

  it('one deadline for all steps: a later step gets what is left, then MF_ETCD_UNREACHABLE names it and every endpoint', async () => {
    const joining = new EtcdJoinDeadline(['10.0.0.1:2379', '10.0.0.2:2379'], 1_000);
    const first = joining.step('membership (lease grant, registration, member watch)', () =>
      answerAfter(700, 'ok'),
    );
    await vi.advanceTimersByTimeAsync(700);
    await first;
    const second = joining.step('FM election (watch, campaign)', never).catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(299);
    let settled = false;
    void second.then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const err = await second;
    expect(isMeterfabricError(err) && err.code).toBe('MF_ETCD_UNREACHABLE');
    expect((err as Error).message).toMatch(
      /^etcd at 10\.0\.0\.1:2379,10\.0\.0\.2:2379 did not answer within 1000 ms while this node was joining \(step: FM election \(watch, campaign\)\); check that etcd is running/,
    );
  });

  it('past the deadline a step fails at once', async () => {
    const joining = new EtcdJoinDeadline(['127.0.0.1:2379'], 1_000);
    await vi.advanceTimersByTimeAsync(1_500);
    const late = joining.step('actor proxy (etcd watches)', never).catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(0);
    const err = await late;
    expect(isMeterfabricError(err) && err.code).toBe('MF_ETCD_UNREACHABLE');
  });
});
