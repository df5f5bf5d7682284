import type { CanFrame } from '../../adapters/battery/can/frame.js';
import { BatteryMonitor, type BatteryMonitorOptions } from '../../adapters/battery/monitor/monitor.js';
import {
  ReconnectingTransport,
  type ReconnectOptions,
} from '../../adapters/battery/transport/reconnecting.js';
import { connectTcp } from '../../adapters/battery/transport/tcp.js';
import { canetWireFormat } from '../../adapters/battery/transport/wire-formats.js';
import type { BatteryQuantity, CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import type { Clock } from '../../core/clock.js';
import { emptyResponse, type FieldLink, type FieldRequest, type FieldResponse } from './field.js';

/**
 * A battery site as a concentrator: the FieldLink its Device actor drives. The site's BMS
 * broadcasts its telemetry over a CANET gateway (TCP); a BatteryMonitor decodes it. A
 * battery keeps no history, so every collection request samples it: it waits for the next
 * complete broadcast cycle (so the values are fresh, not what an earlier cycle left) and
 * answers the latest value of each configured quantity, plus the raised/cleared alarms seen
 * since the previous request, each handed over once. Batteries take no control orders here.
 */

export type BatterySiteFieldLinkOptions = {
  /** The site's id: readings carry it as meterSerial (`<id>/pack<n>` per pack in Sofar-extended). */
  deviceId: string;
  /** The CANET gateway (or the site simulator). */
  gateway: { host: string; port: number };
  /** What a sample contains; the monitor's integrated energies and BMS limits are left out by default. */
  quantities?: readonly BatteryQuantity[];
  /** Frames in one broadcast cycle (Pylontech V1.2: 0x351 0x355 0x356 0x359 0x35C 0x35E). */
  framesPerCycle?: number;
  /** Longest wait for a fresh cycle; after it the request fails as unreachable. */
  settleMs?: number;
  /** Stamps readings and events (the head-end's clock, simulated in the demo). */
  stampClock?: Clock;
  /** Bound on events held between two requests; beyond it the oldest go (counted). */
  maxBufferedEvents?: number;
  monitor?: Partial<
    Pick<BatteryMonitorOptions, 'linkTimeoutMs' | 'heartbeatIntervalMs' | 'clock' | 'logger'>
  >;
  reconnect?: ReconnectOptions;
};

export const defaultBatteryQuantities: readonly BatteryQuantity[] = [
  'stateOfCharge',
  'stateOfHealth',
  'voltage',
  'current',
  'temperature',
];

export class BatterySiteFieldLink implements FieldLink {
  private transport: ReconnectingTransport<CanFrame> | undefined;
  private monitor: BatteryMonitor | undefined;
  private events: DeviceEvent[] = [];
  private readonly quantities: ReadonlySet<BatteryQuantity>;
  private wakeUp: (() => void) | undefined;
  /** Events dropped because the buffer was full. */
  dropped = 0;

  constructor(private readonly options: BatterySiteFieldLinkOptions) {
    this.quantities = new Set(options.quantities ?? defaultBatteryQuantities);
  }

  /** Frames decoded so far, and frames rejected (malformed or out of range: logged, never sampled). */
  get stats(): { framesDecoded: number; decodeErrors: number } {
    return {
      framesDecoded: this.monitor?.stats.framesDecoded ?? 0,
      decodeErrors: this.monitor?.stats.decodeErrors ?? 0,
    };
  }

  start(): void {
    if (this.transport) return;
    const { host, port } = this.options.gateway;
    const transport = new ReconnectingTransport(() => connectTcp(host, port, canetWireFormat), {
      description: `battery site ${this.options.deviceId} at ${host}:${port}`,
      ...this.options.reconnect,
    });
    const monitor = new BatteryMonitor({
      ...this.options.monitor,
      deviceId: this.options.deviceId,
      transport,
      // Scheduled readings are not used: requests sample the latest values.
      readingIntervalMs: 86_400_000,
      onEvent: (event) => {
        this.events.push(this.stamped(event));
        if (this.events.length > (this.options.maxBufferedEvents ?? 10_000)) {
          this.events.shift();
          this.dropped++;
        }
      },
    });
    transport.subscribe((event) => {
      if (event.type === 'message') queueMicrotask(() => this.wakeUp?.());
    });
    monitor.start();
    this.transport = transport;
    this.monitor = monitor;
  }

  async stop(): Promise<void> {
    this.wakeUp?.();
    this.monitor?.stop();
    this.monitor = undefined;
    const transport = this.transport;
    this.transport = undefined;
    await transport?.close();
  }

  private stamped<T extends { timestampMs: number }>(item: T): T {
    return this.options.stampClock ? { ...item, timestampMs: this.options.stampClock.now() } : item;
  }

  async execute(request: FieldRequest): Promise<FieldResponse> {
    const monitor = this.monitor;
    if (!monitor) throw new Error(`battery site ${this.options.deviceId} link is not started`);
    const response = emptyResponse();
    if (request.type === 'control') {
      response.controlResults = request.meters.map((meterSerial) => ({
        meterSerial,
        action: request.action,
        ok: false,
        detail: `battery ${this.options.deviceId} takes no ${request.action} orders (the head-end does not switch batteries)`,
      }));
    } else {
      if (!(await this.freshCycle(monitor))) {
        throw new Error(
          `battery site ${this.options.deviceId} is not reachable: no broadcast within ${this.settleMs} ms`,
        );
      }
      const wanted = new Set(request.meters.map((m) => (typeof m === 'string' ? m : m.serial)));
      response.readings = monitor
        .latestReadings()
        .filter((r) => this.isWanted(r, wanted))
        .map((r) => this.stamped(r));
    }
    response.events = this.events;
    this.events = [];
    return response;
  }

  private get settleMs(): number {
    return this.options.settleMs ?? 3_000;
  }

  private isWanted(r: CollectedReading, meters: ReadonlySet<string>): boolean {
    if (r.quantity.source !== 'battery' || !this.quantities.has(r.quantity.quantity)) return false;
    return meters.size === 0 || meters.has(r.meterSerial) || meters.has(r.meterSerial.split('/')[0] ?? '');
  }

  /** Waits until one whole broadcast cycle was decoded after the call; false if none came in time. */
  private async freshCycle(monitor: BatteryMonitor): Promise<boolean> {
    const target = monitor.stats.framesDecoded + (this.options.framesPerCycle ?? 6);
    const deadline = Date.now() + this.settleMs;
    while (monitor.stats.framesDecoded < target) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0 || this.monitor !== monitor) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
    return true;
  }
}
