import type { ControlKind } from '../../adapters/cim/event-type-map.js';
import type { CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import { isKnxError } from '../../adapters/knx/errors.js';
import { KnxSite, type KnxSiteOptions } from '../../adapters/knx/site.js';
import type { ControlAction } from '../domain/jobs.js';
import {
  type ControlResult,
  emptyResponse,
  type FieldLink,
  type FieldRequest,
  type FieldResponse,
} from './field.js';

/**
 * A KNX gateway as a concentrator: the FieldLink its Device actor drives. The gateway's
 * group telegrams arrive whenever the bus sends them (and when we poll), so readings and
 * events are buffered between two requests; a register/initialize request polls first and
 * waits a short settle time for the answers. Control actions become the site map's
 * confirmed GroupValue_Writes.
 */

export type KnxFieldLinkOptions = Omit<KnxSiteOptions, 'onReading' | 'onEvent'> & {
  /** How long a register/initialize request waits for GroupValue_Responses after polling. */
  pollSettleMs?: number;
  /** Bound on readings and events held between two requests; beyond it the oldest go (counted). */
  maxBuffered?: number;
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
  /** Readings or events dropped because the buffer was full. */
  dropped = 0;

  constructor(options: KnxFieldLinkOptions) {
    const { pollSettleMs = 1_000, maxBuffered = 10_000, ...siteOptions } = options;
    this.pollSettleMs = pollSettleMs;
    this.maxBuffered = maxBuffered;
    this.site = new KnxSite({
      ...siteOptions,
      onReading: (reading) => this.buffer(this.readings, reading),
      onEvent: (event) => this.buffer(this.events, event),
    });
  }

  private buffer<T>(items: T[], item: T): void {
    items.push(item);
    if (items.length > this.maxBuffered) {
      items.shift();
      this.dropped++;
    }
  }

  start(): void {
    this.site.start();
  }

  stop(): Promise<void> {
    return this.site.stop();
  }

  async execute(request: FieldRequest): Promise<FieldResponse> {
    if (!this.site.connected) {
      throw new Error(`KNX gateway ${this.site.map.config.gatewayId} is not reachable`);
    }
    const response = emptyResponse();
    if (request.type === 'control') {
      response.controlResults = await this.control(request.action, request.meters, request.operationId);
    } else if (request.type === 'register' || request.type === 'initialize') {
      await this.site.pollNow();
      await new Promise((resolve) => setTimeout(resolve, this.pollSettleMs));
    }
    const wanted = request.type === 'control' ? undefined : new Set(request.meters.map(meterSerialOf));
    const readings = this.readings;
    this.readings = [];
    response.readings = wanted ? readings.filter((r) => wanted.has(r.meterSerial)) : [];
    // Readings of meters the request did not name stay for the request that does.
    if (wanted) this.readings.push(...readings.filter((r) => !wanted.has(r.meterSerial)));
    response.events = this.events;
    this.events = [];
    return response;
  }

  private async control(
    action: ControlAction,
    meters: string[],
    operationId: string,
  ): Promise<ControlResult[]> {
    const results: ControlResult[] = [];
    for (const meterSerial of meters) {
      try {
        // The site emits the relay event (with the operation id as correlation) through onEvent.
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
