/**
 * Pure: when a node's drain (`ClusterNode.drain`) stops waiting for the failover manager to
 * move its primaries elsewhere, and what it logs then. The node polls this every
 * `drainPollMs`; the driver does the I/O (the draining mark in etcd, FM resignation).
 */

/** Why a drain stopped waiting. */
export type DrainEnd =
  /** No configuration names this node primary and it acts as none. */
  | 'handed-over'
  /** No other member that is not draining itself: nobody to hand a primary to. */
  | 'no-taker'
  /**
   * The membership lease is no longer valid (etcd gone or unreachable, or the lease lost): no
   * failover manager can act on this node's draining mark, and this node self-fenced anyway.
   */
  | 'lease-lost'
  /** The draining mark could not be written to etcd: no failover manager will see it. */
  | 'not-marked'
  /** The drain's own bound passed. */
  | 'timed-out';

/** How a drain ended: the primaries the node had when it began, and why it stopped waiting. */
export type DrainOutcome = { primaries: number; end: DrainEnd };

export type DrainState = {
  /** The draining mark in etcd: written, still on its way, or refused. */
  mark: 'pending' | 'written' | 'failed';
  /** A configuration names this node primary, or it still acts as one. */
  ownsPrimaries: boolean;
  /** Other members that are not draining. */
  takers: number;
  /** This node's membership lease is valid now (`Membership.isValid()`). */
  leaseValid: boolean;
  nowMs: number;
  deadlineMs: number;
};

/** How long a drain waits, at most, for its primaries to move. */
export const drainTimeoutMs = 20_000;
/** How often a drain looks again. */
export const drainPollMs = 100;
/**
 * Bound on giving up FM leadership at the end of a drain. It takes ms with etcd answering; an
 * etcd that accepts connections but does not answer would hold it forever. Giving up is only
 * a courtesy: the FM key lives on this node's lease and dies with it, a TTL later at most.
 */
export const resignTimeoutMs = 2_000;

/**
 * 'wait', or why to stop. With the mark written and the lease valid this is the drain as it
 * always was (handed over, no taker, bound passed); the lease and the mark only end it earlier
 * when etcd cannot carry the handover.
 */
export function drainStep(state: DrainState): DrainEnd | 'wait' {
  if (state.mark === 'failed') return 'not-marked';
  if (state.mark === 'written') {
    if (!state.ownsPrimaries) return 'handed-over';
    if (state.takers === 0) return 'no-taker';
  }
  if (!state.leaseValid) return 'lease-lost';
  if (state.nowMs > state.deadlineMs) return 'timed-out';
  return 'wait';
}

/** What the node logs when its drain ends (warn for all but 'handed-over'). */
export const drainEndMessages: Readonly<Record<DrainEnd, string>> = {
  'handed-over': 'drain: every primary handed over',
  'no-taker': 'drain: no other node can take the primaries; stopping (they wait for a node to return)',
  'lease-lost': 'drain: lease lost; stopping with primaries here (they fail over when etcd returns)',
  'not-marked':
    'drain: cannot mark this node draining in etcd; stopping with primaries here (they fail over when etcd returns)',
  'timed-out': 'drain timed out; stopping with primaries still here (they fail over)',
};
