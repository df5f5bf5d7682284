import type { CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import type { Clock } from '../../core/clock.js';
import { emptyResponse, type FieldLink, type FieldRequest, type FieldResponse } from '../device/field.js';
import { localMidnightUtcMs, localTime, nextDate } from '../domain/local-time.js';
import { closureDayStartMs, maximumDemandReadings, prepaymentReadings } from './daily-closure.js';
import { readRegistersOverIec62056 } from './iec62056-link.js';
import { type MeterModel, nominalVoltageV } from './meter-model.js';

/**
 * A simulated data concentrator with its meters, answering the device actor's requests. It
 * keeps each meter's memory (load profile, closures, events), so data missed while it was
 * unreachable is delivered later: the gaps the head-end must recover.
 */

export type Outage = { fromMs: number; toMs: number };

export type SimulatedConcentratorOptions = {
  id: string;
  timeZone: string;
  meters: MeterModel[];
  clock: Clock;
  /** Windows in which every request fails with "Open socket error". */
  outages?: Outage[];
  /** Read on-demand registers through an IEC 62056-21 readout (a modem-attached meter). */
  iec62056Registers?: boolean;
};

export class SimulatedConcentrator implements FieldLink {
  readonly id: string;
  readonly timeZone: string;
  readonly meters: Map<string, MeterModel>;
  readonly outages: readonly Outage[];
  requestsServed = 0;
  requestsRefused = 0;
  /** Highest number of requests in progress at once: a device must keep it at 1. */
  maxConcurrentRequests = 0;
  private inProgress = 0;

  constructor(private readonly options: SimulatedConcentratorOptions) {
    this.id = options.id;
    this.timeZone = options.timeZone;
    this.meters = new Map(options.meters.map((m) => [m.serial, m]));
    this.outages = options.outages ?? [];
  }

  unreachableAt(ms: number): boolean {
    return this.outages.some((o) => ms >= o.fromMs && ms < o.toMs);
  }

  async execute(request: FieldRequest): Promise<FieldResponse> {
    this.inProgress += 1;
    this.maxConcurrentRequests = Math.max(this.maxConcurrentRequests, this.inProgress);
    try {
      const nowMs = this.options.clock.now();
      if (this.unreachableAt(nowMs)) {
        this.requestsRefused += 1;
        throw new Error('Open socket error');
      }
      this.requestsServed += 1;
      return await this.answer(request, nowMs);
    } finally {
      this.inProgress -= 1;
    }
  }

  private meter(serial: string): MeterModel | undefined {
    return this.meters.get(serial);
  }

  private async answer(request: FieldRequest, nowMs: number): Promise<FieldResponse> {
    const response = emptyResponse();
    switch (request.type) {
      case 'loadProfile': {
        const toMs = Math.min(request.toMs, nowMs);
        for (const cursor of request.meters) {
          const meter = this.meter(cursor.serial);
          if (!meter) continue;
          for (const end of meter.intervalEnds(cursor.afterMs, toMs))
            response.readings.push(intervalReading(meter, end));
          for (const vv of meter.voltageVariations(cursor.afterMs, nowMs))
            response.readings.push(voltageReading(meter, vv));
        }
        return response;
      }
      case 'dailyClosure': {
        const lastClosureMs = Math.min(
          nowMs,
          localMidnightUtcMs(nextDate(request.closureDate), this.timeZone),
        );
        for (const cursor of request.meters) {
          const meter = this.meter(cursor.serial);
          if (meter) appendClosures(response, meter, this.timeZone, cursor.afterMs, lastClosureMs);
        }
        return response;
      }
      case 'register': {
        for (const serial of request.meters) {
          const meter = this.meter(serial);
          if (!meter) continue;
          response.readings.push(
            ...(this.options.iec62056Registers
              ? await readRegistersOverIec62056(meter, this.options.clock, undefined, this.timeZone)
              : registerReadings(meter, nowMs)),
          );
        }
        return response;
      }
      case 'initialize':
        // Per meter, so the head-end retries only the meters this concentrator does not serve.
        response.initResults = request.meters.map((serial) =>
          this.meter(serial)
            ? { meterSerial: serial, ok: true }
            : {
                meterSerial: serial,
                ok: false,
                detail: `meter ${serial} is not behind concentrator ${this.id}`,
              },
        );
        return response;
      case 'control': {
        for (const serial of request.meters) {
          const meter = this.meter(serial);
          if (!meter) {
            response.controlResults.push({
              meterSerial: serial,
              action: request.action,
              ok: false,
              detail: `meter ${serial} is not behind concentrator ${this.id}`,
            });
            continue;
          }
          let moved = true;
          if (request.action === 'powerReduction') meter.powerLimitW = request.limitW;
          else moved = meter.operateRelay(request.action === 'disconnect' ? 'open' : 'closed', nowMs);
          response.controlResults.push({
            meterSerial: serial,
            action: request.action,
            ok: true,
            ...(moved
              ? {}
              : { detail: `relay already ${request.action === 'disconnect' ? 'open' : 'closed'}` }),
          });
          response.events.push({
            deviceId: serial,
            deviceKind: 'meter',
            key:
              request.action === 'disconnect'
                ? 'meter.relayOpened'
                : request.action === 'connect'
                  ? 'meter.relayClosed'
                  : 'meter.powerReduced',
            phase: 'occurred',
            timestampMs: nowMs,
            details: { CONCENTRATOR: this.id, OPERATION: request.operationId },
          });
        }
        return response;
      }
    }
  }
}

export function intervalReading(meter: MeterModel, endMs: number): CollectedReading {
  return {
    meterSerial: meter.serial,
    kind: 'interval',
    quantity: { source: 'profile', quantity: 'activeImportInterval' },
    value: meter.intervalWh(endMs) ?? 0,
    unit: 'Wh',
    timestampMs: endMs,
    intervalSeconds: 3600,
  };
}

export function voltageReading(
  meter: MeterModel,
  vv: { timestampMs: number; valueV: number },
): CollectedReading {
  return {
    meterSerial: meter.serial,
    kind: 'instantaneous',
    quantity: { source: 'obis', code: '32.7.0' },
    value: vv.valueV,
    unit: 'V',
    timestampMs: vv.timestampMs,
  };
}

export function registerReadings(
  meter: MeterModel,
  atMs: number,
  kind: 'register' | 'dailyClosure' = 'register',
): CollectedReading[] {
  const registers = meter.registersAt(atMs);
  const total = registers.reduce((a, b) => a + b, 0);
  return [total, ...registers].map((value, i) => ({
    meterSerial: meter.serial,
    kind,
    quantity: { source: 'obis', code: `1.8.${i}` },
    value,
    unit: 'Wh',
    timestampMs: atMs,
  }));
}

/** Local midnights in (afterMs, lastMs] after the meter's origin: the closures a meter holds. */
export function closureInstants(
  meter: MeterModel,
  timeZone: string,
  afterMs: number,
  lastMs: number,
): number[] {
  const from = Math.max(afterMs, meter.originMs);
  const out: number[] = [];
  let date = localTime(from, timeZone).date;
  for (let i = 0; i < 400; i++) {
    const instant = localMidnightUtcMs(date, timeZone);
    if (instant > lastMs) break;
    if (instant > from) out.push(instant);
    date = nextDate(date);
  }
  return out;
}

function appendClosures(
  response: FieldResponse,
  meter: MeterModel,
  timeZone: string,
  afterMs: number,
  lastMs: number,
): void {
  for (const instant of closureInstants(meter, timeZone, afterMs, lastMs)) {
    response.readings.push(
      ...registerReadings(meter, instant, 'dailyClosure'),
      ...maximumDemandReadings(meter, timeZone, instant),
      ...prepaymentReadings(meter, instant),
    );
    const dayStart = closureDayStartMs(instant, timeZone);
    const alarms = meter.statusAlarms(dayStart, instant);
    let word = 0;
    for (const alarm of alarms) {
      word |= 1 << alarm.bit;
      response.events.push(statusAlarmEvent(meter, alarm));
    }
    response.statusWords.push({ meterSerial: meter.serial, word, timestampMs: instant });
  }
}

export function statusAlarmEvent(
  meter: MeterModel,
  alarm: { timestampMs: number; bit: number; name: string },
): DeviceEvent {
  return {
    deviceId: meter.serial,
    deviceKind: 'meter',
    key: 'meter.statusWordAlarm',
    phase: 'occurred',
    timestampMs: alarm.timestampMs,
    details: {
      STATUSWORD: (1 << alarm.bit).toString(16).toUpperCase().padStart(8, '0'),
      DESCRIPTION: alarm.name,
    },
  };
}

export const voltageBandV = { min: nominalVoltageV * 0.9, max: nominalVoltageV * 1.1 };
