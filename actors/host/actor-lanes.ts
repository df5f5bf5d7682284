import { createHash } from 'node:crypto';
import { MeterfabricError } from '../../core/errors.js';
import type { Delivery, OutboxEntry } from '../hosting/outbox.js';
import type { HeadendServiceName } from '../hosting/services.js';
import { jsonLength } from './json-length.js';
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

type Queued = {
  delivery: Delivery<unknown>;
  sizeBytes: number;
  committed: (() => void) | undefined;
  /** Asked as the call starts: an entry id to acknowledge in the same call (see `post`). */
  tailAck: (() => number | undefined) | undefined;
  /** What `tailAck` answered: kept with the delivery if a split puts it back in the queue. */
  ackId: number | undefined;
  /** Still to run before the delivery can be sent (`postPrepared`); cleared once it has. */
  prepare: (() => Promise<void>) | undefined;
};

type Lane = {
  address: ActorAddress;
  deliveries: Queued[];
  acks: number[];
  /** Bytes of the deliveries the held acknowledgements' entries caused (what the actor still holds). */
  heldBytes: number;
  /** Driver-clock instant the oldest held acknowledgement was held from. */
  heldSinceMs: number | undefined;
  tick: boolean;
  running: boolean;
  /** Held for its wave: dispatched once every call started up to this number has returned. */
  holdUntil: number | undefined;
};

/**
 * The idempotency key's hash: what caused the call. A delivery from a source names itself by
 * (source, seq): a source's entries and their parts are numbered and routed the same way by
 * every driver, so the pair stands for the delivery's commands (a receiver's high-water mark
 * treats it the same way) and they need not be stringified and hashed again (it cost the driver
 * 7% of its CPU: bench/headend-cluster.bench.ts profile, session 13). The driver's own posts
 * (registry commands, submitted jobs: no source) are hashed whole.
 */
export function callKey(
  deliveries: readonly Delivery<unknown>[],
  ack: readonly number[],
  tick: boolean,
  atMs: number,
): string {
  const hash = createHash('sha1');
  hash.update(`${atMs}|${tick ? 1 : 0}|${ack.join(',')}`);
  for (const d of deliveries)
    hash.update(
      d.from !== undefined && d.seq !== undefined
        ? `|${JSON.stringify([d.from, d.seq])}`
        : `|${JSON.stringify(d)}`,
    );
  return hash.digest('base64url');
}

/**
 * Bytes of deliveries per call (plain JSON, as `post` measures them). Calls are sent and
 * persisted packed (service-ports.ts `measuredCall`: 1/10-1/20 of this), and each packed call
 * is checked against `maxPackedCallBytes` (512 KiB, half the node's 1 MiB payload and event
 * bounds) before it is sent: one over it is split in halves here (`splitCalls`). So this plain
 * budget bounds what the actor holds in plain form: its turn, and the outbox entry the call
 * makes (held in its state and snapshots until acknowledged). 256 KiB until session 13; 1 MiB
 * cut the integration stream's serial calls per simulated day ~4x (actors/host/README.md).
 */
export const maxCallBytes = 1024 * 1024;

export const addressId = (a: ActorAddress): string => `${a.service}/${a.key}`;

/**
 * How long acknowledgements may wait to ride on an actor's next call (issue 7): an
 * acknowledgement sent in a call of its own costs a quorum commit and carries nothing but
 * bookkeeping (a device was called three times per collection: request, field response,
 * acknowledgement). Held, it goes with the actor's next call (a device's next request, a
 * worker's next job, the stream's next step). Holding costs only state: the actor keeps the
 * entry in its replicated outbox meanwhile, and a driver replacing this one delivers it again
 * (its receivers drop the repeat). So the bounds are on what is held: per actor by count and
 * bytes, over all actors by bytes, and by age on the driver's clock; past any of them the
 * acknowledgements get a call of their own at the next settle (count and bytes at once).
 */
export type AckHold = {
  /** Held acknowledgements per actor. */
  maxEntries: number;
  /** Bytes per actor of what the held entries caused (their deliveries, JSON). */
  maxBytes: number;
  /** The same over all actors. */
  maxTotalBytes: number;
  /** Age of an actor's oldest held acknowledgement, on the driver's clock (simulated time in a demo). */
  maxAgeMs: number;
};

export const defaultAckHold: AckHold = {
  maxEntries: 64,
  maxBytes: 256 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxAgeMs: 86_400_000,
};

export type LaneOptions = {
  ports: ServicePorts;
  now: () => number;
  onEntry: EntryHandler;
  onError: (err: unknown) => void;
  /** Calls in flight at once over all actors. */
  maxConcurrentCalls?: number;
  /**
   * Bounds on acknowledgements held back to ride on an actor's next call (default
   * `defaultAckHold`); `flushAcks('bounded')` sends those past them.
   */
  ackHold?: Partial<AckHold>;
  /** Actors whose acknowledgements may be held (default all): one the driver never calls otherwise must not wait for a bound. */
  holdsAcks?: (address: ActorAddress) => boolean;
  /** Which actors wait for their wave (see `ActorLanes`); default none. */
  holdsForWave?: (address: ActorAddress) => boolean;
};

/** The fan-in actors: every one but the devices, which get one request per round. */
export const fanInActors = (address: ActorAddress): boolean => address.service !== 'device';

/**
 * A delivery's size in bytes (JSON), refused with MF_PAYLOAD_TOO_LARGE over the call budget.
 * `commandsBytes`: the commands' JSON bytes summed, when the caller has measured them
 * (delivery-parts.ts): the commands are then not measured again (json-length.ts).
 */
function measuredDelivery(
  address: ActorAddress,
  delivery: Delivery<unknown>,
  commandsBytes?: number,
): number {
  const sizeBytes =
    commandsBytes === undefined
      ? (jsonLength(delivery) ?? 4)
      : (jsonLength({ ...delivery, commands: [] }) ?? 4) +
        commandsBytes +
        Math.max(0, delivery.commands.length - 1);
  if (sizeBytes > maxCallBytes)
    throw new MeterfabricError(
      'MF_PAYLOAD_TOO_LARGE',
      `a delivery of ${sizeBytes} bytes to ${addressId(address)} is over the ${maxCallBytes}-byte call budget`,
    );
  return sizeBytes;
}

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
  private readonly hold: AckHold;
  /** `heldBytes` summed over all lanes. */
  private heldTotalBytes = 0;
  private splits = 0;
  /** Lanes running a `prepare` (postPrepared). */
  private preparing = 0;

  constructor(private readonly options: LaneOptions) {
    this.hold = { ...defaultAckHold, ...options.ackHold };
  }

  get callCount(): number {
    return this.calls;
  }

  /** Calls refused as over the packed cap and split in halves (tests, benches). */
  get splitCalls(): number {
    return this.splits;
  }

  private lane(address: ActorAddress): Lane {
    const id = addressId(address);
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = {
        address,
        deliveries: [],
        acks: [],
        heldBytes: 0,
        heldSinceMs: undefined,
        tick: false,
        running: false,
        holdUntil: undefined,
      };
      this.lanes.set(id, lane);
    }
    return lane;
  }

  /**
   * Queues a delivery; `committed` runs once the actor has committed it. `tailAck` is asked
   * when the call carrying it starts: an entry id it returns is acknowledged in that same
   * call (a device's field answer completing the entry that asked for it: one atomic commit
   * instead of two). `commandsBytes`: the commands' JSON bytes summed, when the caller has
   * measured them (delivery-parts.ts): the delivery is then not measured again (json-length.ts). Returns the
   * delivery's size in bytes (JSON).
   */
  post<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    delivery: Delivery<unknown>,
    committed?: () => void,
    tailAck?: () => number | undefined,
    commandsBytes?: number,
  ): number {
    const sizeBytes = measuredDelivery(address, delivery, commandsBytes);
    const lane = this.lane(address);
    lane.deliveries.push({ delivery, sizeBytes, committed, tailAck, ackId: undefined, prepare: undefined });
    this.schedule(lane, false, this.routing);
    return sizeBytes;
  }

  /**
   * Queues a delivery whose commands are completed by `prepare` (issue 7: a device's `plan`
   * read and the field exchange it decides). The lane is held for it: `prepare` starts once
   * every delivery queued before it has been committed and no call to the actor is running, and
   * no call to the actor starts until it has finished; then the delivery is measured and sent
   * (with what queued behind it). So what `prepare` reads of the actor is what the delivery will
   * be applied to. A failed `prepare`, or a delivery it makes over the call budget, is reported
   * to `onError` and the delivery dropped (the driver has failed; its successor delivers the
   * entry again).
   */
  postPrepared<N extends HeadendServiceName>(
    address: ActorAddress<N>,
    delivery: Delivery<unknown>,
    prepare: () => Promise<void>,
    committed?: () => void,
  ): void {
    const lane = this.lane(address);
    lane.deliveries.push({
      delivery,
      sizeBytes: 0,
      committed,
      tailAck: undefined,
      ackId: undefined,
      prepare,
    });
    this.schedule(lane, false, this.routing);
  }

  /** Runs the prepare of the lane's first delivery, holding the lane meanwhile. */
  private async prepareHead(lane: Lane): Promise<void> {
    const head = lane.deliveries[0] as Queued;
    const prepare = head.prepare as () => Promise<void>;
    lane.running = true;
    this.preparing++;
    try {
      await prepare();
      head.prepare = undefined;
      head.sizeBytes = measuredDelivery(lane.address, head.delivery);
    } catch (err) {
      lane.deliveries.splice(lane.deliveries.indexOf(head), 1);
      this.options.onError(err);
    } finally {
      lane.running = false;
      this.preparing--;
      this.schedule(lane);
      if (!this.busy) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** Lanes whose first delivery is being prepared (tests). */
  get preparingLanes(): number {
    return this.preparing;
  }

  /** Asks for the actor's periodic command (the jobs manager's tick) in its next call. */
  tick(address: ActorAddress): void {
    const lane = this.lane(address);
    lane.tick = true;
    this.schedule(lane);
  }

  /**
   * Acknowledges an entry of the actor: it rides on the actor's next call, or gets a call of
   * its own once the actor's held acknowledgements pass the count or bytes bound.
   * `sizeBytes`: what the entry caused (its deliveries), i.e. roughly what the actor holds.
   */
  ack(address: ActorAddress, entryId: number, sizeBytes = 0): void {
    const lane = this.lane(address);
    lane.acks.push(entryId);
    lane.heldBytes += sizeBytes;
    lane.heldSinceMs ??= this.options.now();
    this.heldTotalBytes += sizeBytes;
    if (lane.acks.length >= this.hold.maxEntries || lane.heldBytes >= this.hold.maxBytes)
      this.schedule(lane, true);
  }

  /** Acknowledgements held back, over all actors (tests, benches). */
  get heldAcks(): { entries: number; bytes: number } {
    let entries = 0;
    for (const lane of this.lanes.values()) entries += lane.acks.length;
    return { entries, bytes: this.heldTotalBytes };
  }

  /**
   * Sends held acknowledgements, each actor's in a call of its own unless one is about to
   * start: 'all' of them, or 'bounded': only those past the hold's bounds (an actor that may
   * not hold, or whose count, bytes or age is over; then the oldest until the total is under
   * its bound). Returns whether any was sent.
   */
  flushAcks(which: 'all' | 'bounded' = 'all'): boolean {
    const nowMs = this.options.now();
    const keep: Lane[] = [];
    let any = false;
    let total = this.heldTotalBytes;
    const send = (lane: Lane) => {
      any = true;
      total -= lane.heldBytes;
      this.schedule(lane, true);
    };
    for (const lane of this.lanes.values()) {
      if (lane.acks.length === 0) continue;
      const over =
        which === 'all' ||
        !(this.options.holdsAcks?.(lane.address) ?? true) ||
        lane.acks.length >= this.hold.maxEntries ||
        lane.heldBytes >= this.hold.maxBytes ||
        nowMs - (lane.heldSinceMs ?? nowMs) >= this.hold.maxAgeMs;
      if (over) send(lane);
      else keep.push(lane);
    }
    keep.sort((a, b) => (a.heldSinceMs ?? 0) - (b.heldSinceMs ?? 0));
    for (const lane of keep) {
      if (total <= this.hold.maxTotalBytes) break;
      send(lane);
    }
    return any;
  }

  get busy(): boolean {
    if (this.running > 0 || this.preparing > 0 || this.waiting.length > 0 || this.held.length > 0)
      return true;
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
    if (lane.deliveries[0]?.prepare) {
      // Not counted against the calls in flight: it is a read and a field exchange, and
      // exchanges were never bounded by the call slots (they ran beside the calls before).
      void this.prepareHead(lane);
      return;
    }
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
    // A lane that waited for a call slot may have started preparing meanwhile (a prepared
    // delivery posted behind acknowledgements alone): the prepare's end schedules it again.
    if (lane.running) return;
    if (lane.deliveries[0]?.prepare) {
      void this.prepareHead(lane);
      return;
    }
    lane.running = true;
    lane.holdUntil = undefined;
    this.running++;
    // As many queued deliveries as fit the plain budget; the packed call is checked against
    // the node's limits as it is sent (`maxPackedCallBytes`) and split below if over.
    let taken = 0;
    let bytes = 0;
    while (
      taken < lane.deliveries.length &&
      !lane.deliveries[taken]!.prepare &&
      (taken === 0 || bytes + lane.deliveries[taken]!.sizeBytes <= maxCallBytes)
    ) {
      bytes += lane.deliveries[taken]!.sizeBytes;
      taken++;
    }
    let batch = lane.deliveries.splice(0, taken);
    // A delivery's tail acknowledgement is asked for once and stays with it (a split may put
    // the delivery back: its entry must not be acknowledged before the delivery commits).
    for (const q of batch) {
      if (q.tailAck) q.ackId = q.tailAck();
      q.tailAck = undefined;
    }
    const laneAcks = lane.acks.splice(0);
    this.heldTotalBytes -= lane.heldBytes;
    lane.heldBytes = 0;
    lane.heldSinceMs = undefined;
    const tick = lane.tick;
    lane.tick = false;
    const atMs = this.options.now();
    const callNumber = ++this.calls;
    this.inFlight.add(callNumber);
    try {
      let entries: OutboxEntry<unknown>[];
      for (;;) {
        const deliveries = batch.map((q) => q.delivery);
        const ack = [...laneAcks, ...batch.flatMap((q) => (q.ackId === undefined ? [] : [q.ackId]))];
        const command = {
          type: 'deliver' as const,
          deliveries,
          ...(ack.length > 0 ? { ack } : {}),
          ...(tick ? { tick } : {}),
        };
        const key = `${addressId(lane.address)}:${callKey(deliveries, ack, tick, atMs)}`;
        try {
          entries = await this.options.ports.deliver(lane.address, command as never, atMs, key);
          break;
        } catch (err) {
          // Over the packed cap (refused before sending) or the node's payload bound: nothing
          // was persisted, so the later half goes back to the front of the queue (its next
          // call) and the first half is sent now, under a key of its own.
          if (batch.length < 2 || (err as { code?: unknown }).code !== 'MF_PAYLOAD_TOO_LARGE') throw err;
          const half = Math.ceil(batch.length / 2);
          lane.deliveries.unshift(...batch.slice(half));
          batch = batch.slice(0, half);
          this.splits++;
        }
      }
      const committed = batch.flatMap((q) => (q.committed ? [q.committed] : []));
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
