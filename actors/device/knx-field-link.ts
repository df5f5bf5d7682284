import type { ControlKind } from '../../adapters/cim/event-type-map.js';
import type { CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import { isKnxError } from '../../adapters/knx/errors.js';
import { KnxSite, type KnxSiteOptions } from '../../adapters/knx/site.js';
import type { Clock } from '../../core/clock.js';
import type { ControlAction } from '../domain/jobs.js';
import {
  type ControlResult,
  emptyResponse,
  type FieldLink,
  type FieldRequest,
  type FieldResponse,
} from './field.js';

/**
 * A KNX gateway as a concentrator: the FieldLink its Device actor drives. KNX meters keep no
 * load profile or closures, so every collection request (load profile, daily closure,
 * register, initialize) samples them: it polls every mapped group address and waits until
 * each has answered (or the settle time is up). Group telegrams that arrive between two
 * requests are buffered, bounded. Control actions become the site map's confirmed
 * GroupValue_Writes.
 */

export type KnxFieldLinkOptions = Omit<KnxSiteOptions, 'onReading' | 'onEvent'> & {
  /** Longest wait for the GroupValue_Responses to one poll. */
  pollSettleMs?: number;
  /** Bound on readings and events held between two requests; beyond it the oldest go (counted). */
  maxBuffered?: number;
  /**
   * Stamps readings and events as they arrive (the head-end's clock, simulated in the demo);
   * KNX telegrams carry no time. The tunnel keeps the site's own clock for its timers.
   */
  stampClock?: Clock;
};

const controlKinds: Record<ControlAction, ControlKind> = {
  disconnect: 'disconnect',
  connect: 'connect',
  powerReduction: 'powerReductionOn',
};

export class KnxFieldLink implements FieldLink {
  private readonly site: KnxSite;
  private readings: CollectedReading[] = [];
  private events: DeviceEvent[] = [];
  private readonly pollSettleMs: number;
  private readonly maxBuffered: number;
  private readonly stampClock: Clock | undefined;
  /** Readings received since the site started (answers to polls, or given up on after a timeout). */
  private received = 0;
  private wakeUp: (() => void) | undefined;
  /** Readings or events dropped because the buffer was full. */
  dropped = 0;

  constructor(options: KnxFieldLinkOptions) {
    const { pollSettleMs = 1_000, maxBuffered = 10_000, stampClock, ...siteOptions } = options;
    this.pollSettleMs = pollSettleMs;
    this.maxBuffered = maxBuffered;
    this.stampClock = stampClock;
    this.site = new KnxSite({
      ...siteOptions,
      onReading: (reading) => {
        this.received++;
        this.buffer(this.readings, this.stamped(reading));
        this.wakeUp?.();
      },
      onEvent: (event) => this.buffer(this.events, this.stamped(asFieldEvent(event))),
    });
  }

  private stamped<T extends { timestampMs: number }>(item: T): T {
    return this.stampClock ? { ...item, timestampMs: this.stampClock.now() } : item;
  }

  private buffer<T>(items: T[], item: T): void {
    items.push(item);
    if (items.length > this.maxBuffered) {
      items.shift();
      this.dropped++;
    }
  }

  get connected(): boolean {
    return this.site.connected;
  }

  start(): void {
    this.site.start();
  }

  stop(): Promise<void> {
    this.wakeUp?.();
    return this.site.stop();
  }

  async execute(request: FieldRequest): Promise<FieldResponse> {
    if (!this.site.connected) {
      throw new Error(`KNX gateway ${this.site.map.config.gatewayId} is not reachable`);
    }
    const response = emptyResponse();
    if (request.type === 'control') {
      response.controlResults = await this.control(request.action, request.meters, request.operationId);
    } else {
      await this.pollAndSettle();
    }
    if (request.type !== 'control') {
      // Readings of meters the request did not name (and all, for a control) stay for the request that does.
      const wanted = new Set(request.meters.map(meterSerialOf));
      const readings = this.readings;
      response.readings = readings.filter((r) => wanted.has(r.meterSerial));
      this.readings = readings.filter((r) => !wanted.has(r.meterSerial));
    }
    response.events = this.events;
    this.events = [];
    return response;
  }

  /**
   * Polls every mapped address, then waits until every poll so far (the site's own on connect
   * and on schedule included) has been answered, or the settle time is up. Waiting for the
   * earlier polls too keeps their late answers from being stamped as this request's.
   */
  private async pollAndSettle(): Promise<void> {
    await this.site.pollNow();
    const owed = this.site.stats.polls * this.site.map.pollAddresses.length;
    const deadline = Date.now() + this.pollSettleMs;
    while (this.received < owed && this.site.connected) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) {
        // Reads nobody answered are given up, so later requests do not wait for them again.
        this.received = owed;
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private async control(
    action: ControlAction,
    meters: string[],
    operationId: string,
  ): Promise<ControlResult[]> {
    const results: ControlResult[] = [];
    for (const meterSerial of meters) {
      try {
        // The site emits the relay event through onEvent, tagged with the operation id.
        await this.site.execute(meterSerial, controlKinds[action], operationId);
        results.push({ meterSerial, action, ok: true });
      } catch (err) {
        results.push({ meterSerial, action, ok: false, detail: isKnxError(err) ? err.message : String(err) });
      }
    }
    return results;
  }
}

function meterSerialOf(meter: string | { serial: string }): string {
  return typeof meter === 'string' ? meter : meter.serial;
}

/**
 * The site tags a control's event with what we passed it: the job's operation id. That is not
 * the CIM CorrelationID (the Device actor adds the job's), so it moves to the OPERATION detail
 * as the meter concentrators report it.
 */
function asFieldEvent(event: DeviceEvent): DeviceEvent {
  if (event.correlationId === undefined) return event;
  const { correlationId, ...rest } = event;
  return { ...rest, details: { ...rest.details, OPERATION: correlationId } };
}
