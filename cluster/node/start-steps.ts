import { GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import { settleWithin } from '../../core/settle-within.js';

/**
 * The steps of `ClusterNode.start()` that wait for etcd, under one deadline. An etcd that is
 * gone refuses each call (that too becomes MF_ETCD_UNREACHABLE, at once, rather than etcd3's
 * gRPC error and a stack), but one that accepts connections and never answers (frozen, behind
 * a network black hole) leaves the lease grant, the registration or a watch waiting forever:
 * the node would print nothing and never become ready, and a supervisor (systemd: "activating")
 * would wait with it. Past the deadline start() throws `MF_ETCD_UNREACHABLE` naming the
 * endpoints and the step it was on; `meterfabric node` then stops what start() had acquired
 * (ports, stores, the lease if one was granted: stop() with its own bounded etcd steps) and
 * exits 1, so the supervisor sees a failure and can restart it with its backoff.
 *
 * The step that timed out is not cancelled: it may still complete once etcd answers, after
 * stop() has closed the etcd client; the lease it may have been granted then is revoked by
 * stop() if it answers in time, else it expires a TTL later, as the process is gone.
 */

/** The etcd steps of start(), as the error names them. */
export type StartStep =
  | 'membership (lease grant, registration, member watch)'
  | 'configuration watch'
  | 'FM election (watch, campaign)'
  | 'actor proxy (etcd watches)';

/** What start() throws when etcd did not let the node join in time. */
export function etcdJoinTimedOut(
  endpoints: readonly string[],
  step: StartStep,
  timeoutMs: number,
): MeterfabricError {
  const at = endpoints.join(',');
  return new MeterfabricError(
    'MF_ETCD_UNREACHABLE',
    `etcd at ${at} did not answer within ${timeoutMs} ms while this node was joining (step: ${step}); ` +
      `check that etcd is running and reachable from this host (meterfabric status --etcd ${at}), ` +
      'or give it longer with etcdJoinTimeoutMs (MF_ETCD_JOIN_TIMEOUT_MS)',
    { endpoints: [...endpoints], step, timeoutMs },
  );
}

/**
 * etcd3's errors for a call that got no answer from etcd: no connection (refused, reset: gRPC
 * UNAVAILABLE), no answer in time (DEADLINE_EXCEEDED), or etcd3's circuit breaker open after
 * such failures (cockatiel's BrokenCircuitError, told by its flag: etcd3 does not export it).
 * An answer etcd gave (a refused request, an expired lease) is not one of them.
 */
export function isEtcdUnreachableError(err: unknown): boolean {
  return (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    (err instanceof Error && (err as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true)
  );
}

/** What start() throws when etcd refused the connection during a step (an etcd that is gone). */
export function etcdJoinRefused(
  endpoints: readonly string[],
  step: StartStep,
  cause: unknown,
): MeterfabricError {
  const at = endpoints.join(',');
  return new MeterfabricError(
    'MF_ETCD_UNREACHABLE',
    `cannot reach etcd at ${at} while this node was joining (step: ${step}): ${cause instanceof Error ? cause.message : String(cause)}; ` +
      `check that etcd is running and reachable from this host (meterfabric status --etcd ${at})`,
    { endpoints: [...endpoints], step },
    { cause },
  );
}

/**
 * One deadline for all the etcd steps of a start, counted from its creation: a bound per step
 * would let a slow etcd multiply it. `now` is real time on purpose (not the node's injectable
 * Clock, which the chaos suite slows): the bound is for the operator and the supervisor.
 */
export class EtcdJoinDeadline {
  private readonly deadlineMs: number;

  constructor(
    private readonly endpoints: readonly string[],
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.deadlineMs = now() + timeoutMs;
  }

  /**
   * Runs `work` until the deadline: its value; MF_ETCD_UNREACHABLE past the deadline, or when
   * etcd could not be reached (`isEtcdUnreachableError`: an etcd that is gone fails at once);
   * any other error as it is.
   */
  async step<T>(step: StartStep, work: () => Promise<T>): Promise<T> {
    const settled = await settleWithin(work(), Math.max(0, Math.ceil(this.deadlineMs - this.now())));
    if (settled.status === 'fulfilled') return settled.value;
    if (settled.status === 'rejected') {
      const { reason } = settled;
      if (!isMeterfabricError(reason) && isEtcdUnreachableError(reason))
        throw etcdJoinRefused(this.endpoints, step, reason);
      throw reason;
    }
    throw etcdJoinTimedOut(this.endpoints, step, this.timeoutMs);
  }
}
