import { createHash } from 'node:crypto';
import { MeterfabricError } from '../../core/errors.js';
import type { Delivery, OutboxEntry } from '../hosting/outbox.js';
import type { HeadendServiceName } from '../hosting/services.js';
import type { ActorAddress, ServicePorts } from './service-ports.js';

/**
 * The driver's calls to the head-end's actors: one lane per actor, so calls to the same actor
 * stay in order while calls to different actors run concurrently (bounded). Whatever is
 * queued for an actor while its previous call runs goes in its next call as one batch, with
 * the acknowledgements of its outbox entries riding along. Each call's idempotency key is a
 * hash of the call itself (actor, deliveries, acks, instant): derived from what causes it,
 * so the proxy's retries and a restarted driver's identical call are answered from the
 * actor's dedup table; deliveries re-sent in a different batch are dropped by the actor's
 * per-source high-water marks instead (actors/hosting/outbox.ts).
 */

export type EntryHandler = (address: ActorAddress, entry: OutboxEntry<unknown>) => void;

type Queued = { delivery: Delivery<unknown>; sizeBytes: number; committed: (() => void) | undefined };

type Lane = {
  address: ActorAddress;
  deliveries: Queued[];
  acks: number[];
  tick: boolean;
  running: boolean;
  /** Held for its wave: dispatched once every call started up to this number has returned. */
  holdUntil: number | undefined;
};

/** Bytes of deliveries per call (JSON). */
export const maxCallBytes = 256 * 1024;

export const addressId = (a: ActorAddress): string => `${a.service}/${a.key}`;

export type LaneOptions = {
  ports: ServicePorts;
  now: () => number;
  onEntry: EntryHandler;
  onError: (err: unknown) => void;
  /** Calls in flight at once over all actors. */
  maxConcurrentCalls?: number;
  /** Acknowledgements kept back to ride on a later call before they get a call of their own. */
  ackBatch?: number;
  /** Which actors wait for their wave (see `ActorLanes`); default none. */
  holdsForWave?: (address: ActorAddress) => boolean;
};

/** The fan-in actors: every one but the devices, which get one request per round. */
export const fanInActors = (address: ActorAddress): boolean => address.service !== 'device';

/**
 * Waves (opt-in, `holdsForWave`): a fan-in actor (a worker, the jobs manager, a TLog bucket,
 * the integration stream) receives one delivery from each of many calls that run at the same
 * time (forty devices' results for one worker). Called as soon as the first arrives, it spends
 * a quorum commit on one delivery while the rest queue for a second call. A lane that holds
 * for its wave waits, for a delivery routed from a returning call, until the calls already in
 * flight then have returned, and takes everything they sent it in one call. Only calls started
 * before it waited hold it, so it cannot starve; the driver's own posts never wait. Measured on
 * the three-node cluster (bench/headend-cluster.bench.ts, MF_BENCH_WAVES=1) it cuts the rounds
 * of commits per simulated hour from about 18 to 13 but makes each round last as long as its
 * slowest call, which cost more than the rounds it saved, idle box or loaded: so it is off
 * unless asked for.
 */
export class ActorLanes {
  private readonly lanes = new Map<string, Lane>();
  private running = 0;
  private readonly waiting: Lane[] = [];
  /** Lanes waiting for their wave, in the order they started waiting. */
  private held: Lane[] = [];
  /** Numbers of the calls in flight (numbered from 1 as they start). */
  private readonly inFlight = new Set<number>();
  private idleWaiters: (() => void)[] = [];
  private calls = 0;
  /** True while a returned call's entries are being routed: what they post belongs to its wave. */
  private routing = false;

  constructor(private readonly options: LaneOptions) {}

  get callCount(): number {
    return this.calls;
  }

  private lane(address: ActorAddress): Lane {
    const id = addressId(address);
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = { address, deliveries: [], acks: [], tick: false, running: false, holdUntil: undefined };
      this.lanes.set(id, lane);
    }
    return lane;
  }

  /** Queues a delivery; `committed` runs once the actor has committed it. */
  post<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    delivery: Delivery<unknown>,
    committed?: () => void,
  ): void {
    const sizeBytes = JSON.stringify(delivery).length;
    if (sizeBytes > maxCallBytes)
      throw new MeterfabricError(
        'MF_PAYLOAD_TOO_LARGE',
        `a delivery of ${sizeBytes} bytes to ${addressId(address)} is over the ${maxCallBytes}-byte call budget`,
      );
    const lane = this.lane(address);
    lane.deliveries.push({ delivery, sizeBytes, committed });
    this.schedule(lane, false, this.routing);
  }

  /** Asks for the actor's periodic command (the jobs manager's tick) in its next call. */
  tick(address: ActorAddress): void {
    const lane = this.lane(address);
    lane.tick = true;
    this.schedule(lane);
  }

  ack(address: ActorAddress, entryId: number): void {
    const lane = this.lane(address);
    lane.acks.push(entryId);
    if (lane.acks.length >= (this.options.ackBatch ?? 64)) this.schedule(lane, true);
  }

  /** Sends the acknowledgements still held back (before settling). */
  flushAcks(): boolean {
    let any = false;
    for (const lane of this.lanes.values())
      if (lane.acks.length > 0) {
        any = true;
        this.schedule(lane, true);
      }
    return any;
  }

  get busy(): boolean {
    if (this.running > 0 || this.waiting.length > 0 || this.held.length > 0) return true;
    for (const lane of this.lanes.values()) if (lane.deliveries.length > 0 || lane.tick) return true;
    return false;
  }

  /** Resolves when no call is queued or running. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Whether a call started at or before `callNumber` is still in flight. */
  private waveRunning(callNumber: number): boolean {
    for (const n of this.inFlight) if (n <= callNumber) return true;
    return false;
  }

  /** `fromWave`: a delivery routed from a returning call (the driver's own posts never wait). */
  private schedule(lane: Lane, acksAlone = false, fromWave = false): void {
    // A delivery routed from a returning call waits for that call's wave (also when the lane
    // is running: its next call then waits).
    if (fromWave && this.options.holdsForWave?.(lane.address)) lane.holdUntil ??= this.calls;
    if (lane.running) return;
    if (lane.deliveries.length === 0 && !lane.tick && !(acksAlone && lane.acks.length > 0)) return;
    if (this.waiting.includes(lane) || this.held.includes(lane)) return;
    if (lane.holdUntil !== undefined && this.waveRunning(lane.holdUntil)) {
      this.held.push(lane);
      return;
    }
    if (this.running >= (this.options.maxConcurrentCalls ?? 64)) {
      this.waiting.push(lane);
      return;
    }
    void this.run(lane);
  }

  /** Lanes whose wave has returned go on (in the order they started waiting). */
  private release(): void {
    if (this.held.length === 0) return;
    const ready = this.held.filter((lane) => !this.waveRunning(lane.holdUntil ?? 0));
    if (ready.length === 0) return;
    this.held = this.held.filter((lane) => !ready.includes(lane));
    for (const lane of ready) this.schedule(lane);
  }

  private async run(lane: Lane): Promise<void> {
    lane.running = true;
    lane.holdUntil = undefined;
    this.running++;
    // As many queued deliveries as fit the budget: an actor's persisted record (the call and
    // its reply) must stay well under the runtime's 1 MiB event limit.
    let taken = 0;
    let bytes = 0;
    while (
      taken < lane.deliveries.length &&
      (taken === 0 || bytes + lane.deliveries[taken]!.sizeBytes <= maxCallBytes)
    ) {
      bytes += lane.deliveries[taken]!.sizeBytes;
      taken++;
    }
    const batch = lane.deliveries.splice(0, taken);
    const deliveries = batch.map((q) => q.delivery);
    const committed = batch.flatMap((q) => (q.committed ? [q.committed] : []));
    const ack = lane.acks.splice(0);
    const tick = lane.tick;
    lane.tick = false;
    const command = {
      type: 'deliver' as const,
      deliveries,
      ...(ack.length > 0 ? { ack } : {}),
      ...(tick ? { tick } : {}),
    };
    const atMs = this.options.now();
    const key = `${addressId(lane.address)}:${createHash('sha1')
      .update(JSON.stringify({ command, atMs }))
      .digest('base64url')}`;
    const callNumber = ++this.calls;
    this.inFlight.add(callNumber);
    try {
      const entries = await this.options.ports.deliver(lane.address, command as never, atMs, key);
      this.routing = true;
      try {
        for (const done of committed) done();
        for (const entry of entries) this.options.onEntry(lane.address, entry);
      } finally {
        this.routing = false;
      }
    } catch (err) {
      this.options.onError(err);
    } finally {
      lane.running = false;
      this.running--;
      this.inFlight.delete(callNumber);
      this.schedule(lane);
      const maxCalls = this.options.maxConcurrentCalls ?? 64;
      while (this.running < maxCalls && this.waiting.length > 0) void this.run(this.waiting.shift()!);
      this.release();
      if (!this.busy) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
