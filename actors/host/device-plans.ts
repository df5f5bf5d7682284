import type { DeviceCommand } from '../device/state.js';
import type { Delivery } from '../hosting/outbox.js';
import { concentratorOfKey } from '../hosting/services.js';
import type { ActorLanes } from './actor-lanes.js';
import type { EntryDeliveries } from './entry-deliveries.js';
import type { FieldExchanges } from './field-exchanges.js';
import type { ActorAddress, ServicePorts } from './service-ports.js';

/**
 * Issue 7's one device write per collection, the driver's side (HeadendDriver routes a worker's
 * device request here): the device's lane is held while the device is asked what it would send
 * (`plan`, a read), that exchange runs, and the delivery then carries the request and its answer
 * (`fieldResponse` or `fieldFailure`) in one call, applied in that order as the two calls were.
 * When the device says two calls (not idle, a work order, the delivery applied already), the
 * delivery carries the request alone, as before. A crash before the call records nothing on the
 * device: the worker's entry is still unacknowledged (a new driver routes it again), an attempt
 * timing out first is retried by the jobs manager, and the cursors filter whatever the lost
 * exchange had read.
 */
export class DevicePlans {
  private exchanges = 0;

  constructor(
    private readonly ports: ServicePorts,
    private readonly lanes: ActorLanes,
    private readonly field: FieldExchanges,
    private readonly now: () => number,
  ) {}

  /** Requests whose exchange ran between a plan read and one write, so far. */
  get oneWriteRequests(): number {
    return this.exchanges;
  }

  /**
   * Whether a delivery takes this path: a single `request` to a device (what a worker's entry
   * sends it), the ports able to plan. Work orders are decided by the device's plan (always two
   * calls: actors/device/field-requests.ts `planRequest`).
   */
  takes(address: ActorAddress, commands: readonly unknown[]): address is ActorAddress<'device'> {
    return (
      address.service === 'device' &&
      this.ports.plan !== undefined &&
      commands.length === 1 &&
      (commands[0] as DeviceCommand).type === 'request'
    );
  }

  /** Queues the request's delivery on the device's lane, planned; the entry is held until it commits. */
  post(
    address: ActorAddress<'device'>,
    delivery: Delivery<DeviceCommand> & { from: string; seq: number },
    entry: EntryDeliveries,
  ): void {
    const request = delivery.commands[0] as Extract<DeviceCommand, { type: 'request' }>;
    const plan = this.ports.plan as NonNullable<ServicePorts['plan']>;
    entry.hold();
    this.lanes.postPrepared(
      address,
      delivery,
      async () => {
        const decided = await plan.call(this.ports, address, {
          type: 'plan',
          job: request.job,
          attempt: request.attempt,
          atMs: this.now(),
          from: delivery.from,
          seq: delivery.seq,
        });
        if (decided.type !== 'send') return;
        this.exchanges++;
        const concentratorId = concentratorOfKey(address.key);
        delivery.commands.push(await this.field.exchange(concentratorId, decided.requestId, decided.request));
      },
      entry.release,
    );
  }
}
