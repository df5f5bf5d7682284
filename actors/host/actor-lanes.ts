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
};

export class ActorLanes {
  private readonly lanes = new Map<string, Lane>();
  private running = 0;
  private readonly waiting: Lane[] = [];
  private idleWaiters: (() => void)[] = [];
  private calls = 0;

  constructor(private readonly options: LaneOptions) {}

  get callCount(): number {
    return this.calls;
  }

  private lane(address: ActorAddress): Lane {
    const id = addressId(address);
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = { address, deliveries: [], acks: [], tick: false, running: false };
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
    this.schedule(lane);
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
    if (this.running > 0 || this.waiting.length > 0) return true;
    for (const lane of this.lanes.values()) if (lane.deliveries.length > 0 || lane.tick) return true;
    return false;
  }

  /** Resolves when no call is queued or running. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(lane: Lane, acksAlone = false): void {
    if (lane.running) return;
    if (lane.deliveries.length === 0 && !lane.tick && !(acksAlone && lane.acks.length > 0)) return;
    if (this.waiting.includes(lane)) return;
    if (this.running >= (this.options.maxConcurrentCalls ?? 64)) {
      this.waiting.push(lane);
      return;
    }
    void this.run(lane);
  }

  private async run(lane: Lane): Promise<void> {
    lane.running = true;
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
    this.calls++;
    try {
      const entries = await this.options.ports.deliver(lane.address, command as never, atMs, key);
      for (const done of committed) done();
      for (const entry of entries) this.options.onEntry(lane.address, entry);
    } catch (err) {
      this.options.onError(err);
    } finally {
      lane.running = false;
      this.running--;
      this.schedule(lane);
      const next = this.waiting.shift();
      if (next) void this.run(next);
      if (!this.busy) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
