/**
 * Pure: what a node does with a shutdown signal that arrives while it is already draining.
 *
 * A second signal normally means "stop now" (Ctrl-C pressed again, a supervisor out of
 * patience). But Ctrl-C in a terminal sends SIGINT to the whole process group, so the nodes
 * `meterfabric up` started get it too, and `up` then sends each node SIGTERM to stop it: the
 * same request arriving twice. Taking that SIGTERM as "stop now" cut every drain short. So a
 * signal of a different kind within `echoWindowMs` of the first joins the drain under way; the
 * same signal again, or any signal after the window, still exits at once.
 */
export type ShutdownSignal = { signal: string; atMs: number };

/** How long after the first signal a different one counts as the same request. */
export const echoWindowMs = 2_000;

export type SignalDecision = 'drain' | 'join-drain' | 'exit-now';

export function onShutdownSignal(first: ShutdownSignal | undefined, next: ShutdownSignal): SignalDecision {
  if (!first) return 'drain';
  if (next.signal !== first.signal && next.atMs - first.atMs < echoWindowMs) return 'join-drain';
  return 'exit-now';
}
