import type { CollectedReading } from '../../adapters/field-data.js';
import type { Logger } from '../../core/logger.js';
import type { FieldRequest } from '../device/field.js';
import type { DeviceCommand } from '../device/state.js';
import type { JobOutcome } from '../domain/jobs.js';
import type { OutboxEntry } from '../hosting/outbox.js';
import { type ActorLanes, addressId } from './actor-lanes.js';
import { deliverySeq, maxDeliveryBytes, splitCommandsSized } from './delivery-parts.js';
import type { DevicePlans } from './device-plans.js';
import { type Addressing, type DriverAction, deviceOf, routeEntry, singleton } from './effect-routes.js';
import { EntryDeliveries } from './entry-deliveries.js';
import type { FieldExchanges } from './field-exchanges.js';
import { JobWaiters } from './job-waiters.js';
import type { ActorAddress, ServicePorts } from './service-ports.js';
import type { StreamWrites } from './stream-writes.js';

/** What the router works with: the driver's lanes, field exchanges, stream writes and plans. */
export type EntryRouterParts = {
  ports: ServicePorts;
  lanes: ActorLanes;
  field: FieldExchanges;
  writes: StreamWrites;
  plans: DevicePlans;
  addressing: Addressing;
  now: () => number;
  logger: Logger;
  /** The driver's first failure (a later settle throws it). */
  onError: (err: unknown) => void;
};

/**
 * HeadendDriver's delivering of outbox entries, one job split out of the driver: an actor's
 * entry becomes deliveries to other actors (effect-routes.ts, in parts of at most
 * `maxDeliveryBytes`), field exchanges, stream writes and outcomes for waiting callers, and is
 * acknowledged once all of them are committed (entry-deliveries.ts). A worker's device request
 * goes to the device's plan (device-plans.ts: one device write per collection).
 */
export class EntryRouter {
  readonly outcomes: JobOutcome[] = [];
  readonly waiters = new JobWaiters();
  /** Per source actor: the highest entry id routed. */
  private readonly routedUpTo = new Map<string, number>();
  /** Entries routed so far (the driver's `stepDone` compares it with its last mark). */
  routedCount = 0;

  constructor(private readonly parts: EntryRouterParts) {}

  /** The highest entry id of this source routed so far (0: none). */
  routedUpToOf(source: ActorAddress): number {
    return this.routedUpTo.get(addressId(source)) ?? 0;
  }

  readingsOf(jobId: string): CollectedReading[] {
    return this.waiters.readingsOf(jobId);
  }

  /** Tracks an entry's deliveries; it is acknowledged when the last one is committed. */
  route(source: ActorAddress, entry: OutboxEntry<unknown>): void {
    const { lanes, plans, addressing } = this.parts;
    const sourceId = addressId(source);
    // A source's entries reach the driver in id order (one lane per actor; resume reads them
    // in order), so one it has seen already is a repeated reply: delivering it again would
    // re-run its field requests.
    if (entry.id <= (this.routedUpTo.get(sourceId) ?? 0)) return;
    this.routedUpTo.set(sourceId, entry.id);
    this.routedCount++;
    for (const r of entry.refused ?? [])
      this.parts.logger.warn(
        { actor: sourceId, code: r.code, reason: r.message },
        'head-end command refused',
      );
    const deliveries = new EntryDeliveries(entry.id, (id, sizeBytes) => lanes.ack(source, id, sizeBytes));
    const { targets, actions } = routeEntry(addressing, source, entry, this.parts.now());
    for (const action of actions) this.act(action, entry.id, deliveries);
    for (const { address, commands } of targets) {
      if (plans.takes(address, commands)) {
        const seq = deliverySeq(entry.id, 0);
        plans.post(address, { from: sourceId, seq, commands: commands as DeviceCommand[] }, deliveries);
        continue;
      }
      for (const [part, chunk] of splitCommandsSized(commands, maxDeliveryBytes).entries()) {
        deliveries.hold();
        deliveries.sizeBytes += lanes.post(
          address,
          { from: sourceId, seq: deliverySeq(entry.id, part), commands: chunk.commands },
          deliveries.release,
          undefined,
          chunk.bytes,
        );
      }
    }
    deliveries.routed();
  }

  private act(action: DriverAction, seq: number, entry: EntryDeliveries): void {
    const { hold, release } = entry;
    switch (action.type) {
      case 'field':
        hold();
        this.execute(action.concentratorId, seq, action.requestId, action.request, entry);
        return;
      case 'write':
        hold();
        this.parts.writes.write(seq, action.batches, release);
        return;
      case 'outcome':
        this.outcomes.push(action.outcome);
        this.waiters.resolve(action.outcome);
        return;
      case 'readings':
        this.waiters.addReadings(action.jobId, action.readings);
        return;
      case 'duplicate':
        if (!this.waiters.waitsFor(action.jobId)) return;
        // A resubmitted job someone waits on: its recorded outcome, if it has one.
        void this.parts.ports.state(singleton(this.parts.addressing, 'jobs-manager')).then(
          (s) => {
            const outcome = s.inner.outcomes[action.jobId];
            if (outcome) this.waiters.resolve(outcome);
          },
          (err: unknown) => this.parts.onError(err),
        );
        return;
    }
  }

  /**
   * One field exchange; its answer goes back to the device as source `field` with the entry's
   * seq, acknowledging the entry in the same call when nothing else of it is outstanding.
   */
  private execute(
    concentratorId: string,
    seq: number,
    requestId: string,
    request: FieldRequest,
    entry: EntryDeliveries,
  ): void {
    this.parts.field.run(concentratorId, requestId, request, (command) =>
      this.parts.lanes.post(
        deviceOf(this.parts.addressing, concentratorId),
        { from: 'field', seq: deliverySeq(seq, 0), commands: [command] },
        entry.release,
        entry.ackWithLast,
      ),
    );
  }
}
