/**
 * Pure: what a node does with a shutdown signal that arrives while it is already draining.
 *
 * A second signal normally means "stop now" (Ctrl-C pressed again, a supervisor out of
 * patience). But Ctrl-C in a terminal sends SIGINT to the whole process group, so the nodes
 * `meterfabric up` started get it too, and `up` then sends each node SIGTERM to stop it: the
 * same request arriving twice. Taking that SIGTERM as "stop now" cut every drain short. So a
 * signal of a different kind within `echoWindowMs` of the first joins the drain under way.
 *
 * The same signal can arrive twice for one request too: a node tied to `up`
 * (core/process/tied-spawn.ts) gets its parent-death SIGTERM from the kernel each time it is
 * handed from one exiting thread of a killed `up` to the next, up to once per thread (2 to 9
 * SIGTERMs within 0.3-3.3 ms of the first, measured with an 11-thread parent; the node's
 * handlers ran up to 26 ms apart, as starting the drain runs between them). So the same signal
 * within `duplicateWindowMs` joins the drain as well; the same signal later, or any signal
 * after `echoWindowMs`, still exits at once.
 */
export type ShutdownSignal = { signal: string; atMs: number };

/** How long after the first signal a different one counts as the same request. */
export const echoWindowMs = 2_000;

/**
 * How long after the first signal the same one again counts as that signal delivered twice:
 * about 8x the 26 ms measured between the handlers of the kernel's repeated parent-death
 * signal, and shorter than a deliberate second one: a held Ctrl-C repeats after 250 ms at the
 * shortest (the Linux console's default), bench/actors.bench.ts sends its second SIGTERM 300 ms
 * after the first. A double tap faster than that joins the drain; another press exits.
 */
export const duplicateWindowMs = 200;

export type SignalDecision = 'drain' | 'join-drain' | 'exit-now';

export function onShutdownSignal(first: ShutdownSignal | undefined, next: ShutdownSignal): SignalDecision {
  if (!first) return 'drain';
  const sinceFirstMs = next.atMs - first.atMs;
  const window = next.signal === first.signal ? duplicateWindowMs : echoWindowMs;
  return sinceFirstMs < window ? 'join-drain' : 'exit-now';
}
