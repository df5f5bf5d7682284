import { isMeterfabricError, MeterfabricError } from '../../core/errors.js';
import type {
  ActorAddress,
  ServiceCommand,
  ServiceEffect,
  ServicePorts,
  ServiceState,
} from '../host/service-ports.js';
import type { HostedCommand, HostedState, OutboxEntry } from '../hosting/outbox.js';
import type { DevicePlan, DevicePlanRead, HeadendServiceName } from '../hosting/services.js';

/**
 * `meterfabric up`'s driver riding out a brief cluster outage (a node restarting, a partition
 * in quorum loss, etcd away for a while) instead of failing the demo day: a call that fails
 * with an outage code is retried, with the same idempotency key (a deliver already applied is
 * answered from the actor's dedup table, so nothing is applied twice), until the cluster
 * answers again or the outage has lasted `maxWaitMs`: then MF_CLUSTER_UNAVAILABLE, which `up`
 * reports and exits non-zero with. While calls wait, a progress line every `progressEveryMs`.
 * Any other error (bad input, a refused store) is not an outage and passes through at once.
 *
 * The bound: an outage starts when the first call that then failed was made, so the day
 * gives up at most `maxWaitMs` after it (plus one call's own deadline, the proxy's).
 */
export const outageCodes: ReadonlySet<string> = new Set([
  'MF_DEADLINE',
  'MF_QUORUM_LOSS',
  'MF_NO_WRITE_QUORUM',
  'MF_UNAVAILABLE',
  'MF_NOT_PRIMARY',
  'MF_STALE_EPOCH',
  'MF_LEASE_EXPIRED',
  'MF_DRAINING',
  'MF_REPLICATION_QUEUE_FULL',
  'MF_CALL_STREAM_FULL',
]);

export class ClusterUnavailableError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown>, cause: unknown) {
    super('MF_CLUSTER_UNAVAILABLE', message, details, { cause });
  }
}

export type OutageWaitOptions = {
  /** How long an outage may last before the day gives up; `up --max-wait-seconds` (default 300 s). */
  maxWaitMs: number;
  say: (line: string) => void;
  /** A progress line at most this often while calls wait; default 5,000. */
  progressEveryMs?: number;
  /** Pause before retrying a failed call; default 1,000. */
  retryDelayMs?: number;
  signal?: AbortSignal;
};

export class OutageWaiter {
  /** Start of the current outage (the earliest call that failed since the last success). */
  private outageSinceMs: number | undefined;
  private lastError: MeterfabricError | undefined;
  private lastProgressMs = 0;
  /** Outages ridden out, and the longest (for the closing summary and tests). */
  readonly waits = { outages: 0, longestMs: 0, retries: 0 };

  constructor(private readonly options: OutageWaitOptions) {}

  /** Runs `call` (retried on an outage as above); `what` names it in progress lines. */
  async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    const startedMs = Date.now();
    for (;;) {
      try {
        const result = await call();
        this.recovered();
        return result;
      } catch (err) {
        if (!isMeterfabricError(err) || !outageCodes.has(err.code)) throw err;
        this.lastError = err;
        this.outageSinceMs = Math.min(this.outageSinceMs ?? startedMs, startedMs);
        const waitedMs = Date.now() - this.outageSinceMs;
        if (waitedMs >= this.options.maxWaitMs)
          throw new ClusterUnavailableError(
            `the cluster did not answer for ${seconds(waitedMs)} s (the bound is ${seconds(this.options.maxWaitMs)} s, up --max-wait-seconds); last error ${err.code} on ${what}: ${err.message}`,
            { waitedMs, maxWaitMs: this.options.maxWaitMs, lastCode: err.code, call: what },
            err,
          );
        this.progress(what, waitedMs);
        this.waits.retries++;
        await this.pause();
      }
    }
  }

  private recovered(): void {
    if (this.outageSinceMs === undefined) return;
    const waitedMs = Date.now() - this.outageSinceMs;
    this.waits.outages++;
    this.waits.longestMs = Math.max(this.waits.longestMs, waitedMs);
    this.outageSinceMs = undefined;
    this.lastProgressMs = 0;
    this.options.say(`cluster answering again after ${seconds(waitedMs)} s; the day carries on`);
  }

  private progress(what: string, waitedMs: number): void {
    const now = Date.now();
    if (now - this.lastProgressMs < (this.options.progressEveryMs ?? 5000)) return;
    this.lastProgressMs = now;
    this.options.say(
      `waiting for the cluster: ${seconds(waitedMs)} s of at most ${seconds(this.options.maxWaitMs)} s (${this.lastError?.code} on ${what}); retrying`,
    );
  }

  private pause(): Promise<void> {
    const { signal } = this.options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(done, this.options.retryDelayMs ?? 1000);
      function done(): void {
        signal?.removeEventListener('abort', aborted);
        resolve();
      }
      function aborted(): void {
        clearTimeout(timer);
        reject(signal?.reason);
      }
      signal?.addEventListener('abort', aborted, { once: true });
    });
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);

/** ServicePorts whose every call rides out an outage through `waiter`. */
export class OutageWaitingPorts implements ServicePorts {
  readonly plan?: (address: ActorAddress<'device'>, read: DevicePlanRead) => Promise<DevicePlan>;

  constructor(
    private readonly inner: ServicePorts,
    private readonly waiter: OutageWaiter,
  ) {
    const plan = inner.plan?.bind(inner);
    // Only where the inner ports plan: without it the driver keeps devices on two calls.
    if (plan) this.plan = (address, read) => waiter.run(name(address), () => plan(address, read));
  }

  deliver<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    command: Extract<HostedCommand<ServiceCommand<N>>, { type: 'deliver' }>,
    atMs: number,
    idempotencyKey: string,
  ): Promise<OutboxEntry<ServiceEffect<N>>[]> {
    return this.waiter.run(name(address), () => this.inner.deliver(address, command, atMs, idempotencyKey));
  }

  outbox<N extends HeadendServiceName>(address: ActorAddress<N>): Promise<OutboxEntry<ServiceEffect<N>>[]> {
    return this.waiter.run(name(address), () => this.inner.outbox(address));
  }

  state<N extends HeadendServiceName>(
    address: ActorAddress<N>,
  ): Promise<HostedState<ServiceState<N>, ServiceEffect<N>>> {
    return this.waiter.run(name(address), () => this.inner.state(address));
  }
}

const name = (address: ActorAddress) => `${address.service}/${address.key}`;
