import { type CatchUpVerdict, judgeCatchUp } from './catch-up.js';
import type { StatusReport } from './status-report.js';

/**
 * The thin driver of catch-up.ts for node-supervisor.ts: polls the cluster's status after a
 * restarted node registered until catch-up.ts says its replicas are in sync, then says so;
 * past `timeoutMs` it warns what is still missing and stops watching. It never acts on the
 * node: a slow catch-up is for a person to look at, not a reason to kill anything.
 */
export type CatchUpWatchOptions = {
  node: string;
  /** `meterfabric status`'s report; a rejection (etcd or a node briefly away) is one more poll. */
  status: () => Promise<StatusReport>;
  targetReplicas: (service: string) => number | undefined;
  timeoutMs: number;
  pollMs: number;
  /** Aborted when the watch no longer matters (the process exited, `up` is stopping). */
  signal: AbortSignal;
  /** The caught-up line (stdout), given the verdict. */
  caughtUp: (verdict: Extract<CatchUpVerdict, { caughtUp: true }>) => void;
  /** The not-caught-up line (stderr), given what is still missing (at most `maxPendingShown`, then a count). */
  notCaughtUp: (missing: string) => void;
};

/** Partitions a not-caught-up warning names (the rest are counted): one readable line. */
export const maxPendingShown = 3;

export async function watchCatchUp(
  options: CatchUpWatchOptions,
): Promise<'caught-up' | 'timed-out' | 'abandoned'> {
  const { signal } = options;
  const deadlineMs = Date.now() + options.timeoutMs;
  let earlier: StatusReport | null = null;
  let pending = ['the cluster status could not be read twice (etcd or the nodes not answering)'];
  while (!signal.aborted) {
    const now = await options.status().catch(() => null);
    if (signal.aborted) break;
    if (now && earlier) {
      const verdict = judgeCatchUp({
        node: options.node,
        earlier,
        now,
        targetReplicas: options.targetReplicas,
      });
      if (verdict.caughtUp) {
        options.caughtUp(verdict);
        return 'caught-up';
      }
      pending = verdict.pending;
    }
    // Only a report read before the next poll began may give the commit to reach.
    if (now) earlier = now;
    if (Date.now() >= deadlineMs) {
      const more = pending.length > maxPendingShown ? ` and ${pending.length - maxPendingShown} more` : '';
      options.notCaughtUp(`${pending.slice(0, maxPendingShown).join('; ')}${more}`);
      return 'timed-out';
    }
    await pause(options.pollMs, signal);
  }
  return 'abandoned';
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resume) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resume();
    }
  });
}
