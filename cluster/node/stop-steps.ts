import type { Logger } from '../../core/logger.js';
import { settleWithin } from '../../core/settle-within.js';

/**
 * The steps of `ClusterNode.stop()` that wait for etcd or for peers, each bounded on its own,
 * so that a node stops whatever etcd does. Against an etcd that is gone every call is refused
 * at once; against one that accepts connections and never answers (frozen, behind a network
 * black hole) a watch cancel or a lease revoke waits forever, and the node would never exit
 * (its supervisor would have to SIGKILL it, before its stores were closed). A step that does
 * not finish in time is logged by name and stop() goes on with the next one; what it skipped
 * is a courtesy: the lease and the keys under it expire a TTL later, the watches end with the
 * process (the CLI exits once stop() returns).
 *
 * Local steps (closing the replicas' stores, the actors, the gRPC server) are not bounded:
 * they do not wait on the network, and cutting them short is what could lose data.
 */

/**
 * Bound on one etcd or network step of stop(). With etcd answering each takes milliseconds
 * (one round trip: a watch cancel, a lease revoke), so 2 s is far beyond a loaded box's
 * latency. Against a frozen etcd four steps wait their full bound: with the drain's lease
 * wait (< TTL) and FM resignation (2 s) the node exits within 13 s of SIGTERM (TTL 3 s; 12.1 s
 * measured: test/cluster/stop-etcd-unresponsive.int.test.ts), within the 30 s a Kubernetes
 * pod gets by default and systemd's 90 s.
 */
export const stopStepTimeoutMs = 2_000;

/**
 * Bound on one extension's stop(). Not our code: it may hand a last piece of work over
 * through the node's ActorProxy or close a server of its own, so it gets more than an etcd
 * round trip, but a hung peer or client must not keep the node from stopping.
 */
export const extensionStopTimeoutMs = 5_000;

/** The network steps of stop(), as its log lines name them. */
export type StopStep =
  | `extension ${string} stop`
  | 'actor proxy close (etcd watches, peer channels)'
  | 'FM election close (etcd watch)'
  | 'configuration watch cancel (etcd)'
  | 'membership close (etcd watch, lease revoke)'
  | 'metrics server close (open scrapes)';

/** What stop() logs when a step did not finish within its bound. */
export function stopStepTimedOutMessage(step: StopStep, timeoutMs: number): string {
  return `stop: ${step} did not finish within ${timeoutMs} ms; going on`;
}

/**
 * Runs one step of stop() for at most `timeoutMs`: resolves true if it finished, false if it
 * failed or timed out (logged as a warning naming the step). Never rejects, so stop() always
 * reaches the next step.
 */
export async function runStopStep(
  logger: Logger,
  step: StopStep,
  work: () => Promise<unknown>,
  timeoutMs = stopStepTimeoutMs,
): Promise<boolean> {
  let started: Promise<unknown>;
  try {
    started = work();
  } catch (err) {
    started = Promise.reject(err);
  }
  const settled = await settleWithin(started, timeoutMs);
  if (settled.status === 'fulfilled') return true;
  if (settled.status === 'rejected')
    logger.warn({ step, err: String(settled.reason) }, `stop: ${step} failed`);
  else logger.warn({ step, timeoutMs }, stopStepTimedOutMessage(step, timeoutMs));
  return false;
}
