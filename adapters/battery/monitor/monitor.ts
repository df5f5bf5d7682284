import { type Clock, systemClock } from '../../../core/clock.js';
import type { MeterfabricError } from '../../../core/errors.js';
import { type Logger, silentLogger } from '../../../core/logger.js';
import type { CollectedReading, DeviceEvent } from '../../field-data.js';
import { decodeCanFrame } from '../can/decode.js';
import { CanVariantDetector } from '../can/detect.js';
import { encodeInverterHeartbeat } from '../can/encode.js';
import type { CanFrame } from '../can/frame.js';
import type { CanVariant, DecodedCan } from '../can/types.js';
import type { CanTransport } from '../transport/transport.js';
import { type Condition, ConditionTracker, conditionsOf, type FlagFrames } from './conditions.js';
import { type ChangeThresholds, defaultChangeThresholds, TelemetryTracker } from './telemetry.js';

export type BatteryMonitorOptions = {
  /** The battery site's device id; readings use it as meterSerial (`<id>/pack<n>` per pack in Sofar-extended). */
  deviceId: string;
  transport: CanTransport;
  clock?: Clock;
  /** Full set of readings at this cadence ("on schedule"). */
  readingIntervalMs?: number;
  /** No frame for this long: battery.linkLost raised (cleared when frames return). Reference §6: 10–30 s. */
  linkTimeoutMs?: number;
  /** Send the inverter keep-alive 0x305 at this cadence; 0 = listen only (a PCS is on the bus). */
  heartbeatIntervalMs?: number;
  changeThresholds?: ChangeThresholds;
  onReadings?: (readings: CollectedReading[]) => void;
  onEvent?: (event: DeviceEvent) => void;
  onDecodeError?: (error: MeterfabricError) => void;
  /** Link-level trouble (a reconnecting transport's drop, a failed reconnect). */
  onTransportError?: (error: MeterfabricError) => void;
  logger?: Logger;
};

const maxUnits = 16;

/**
 * The head-end's seam to a battery site. Owns one CAN transport: decodes what the BMS
 * broadcasts, keeps telemetry, emits CollectedReadings on schedule and on change, and turns
 * protections, alarms, forced/full-charge requests and link loss into de-duplicated
 * raised/cleared DeviceEvents. The Device actor subscribes with onReadings/onEvent.
 */
export class BatteryMonitor {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly tracker: ConditionTracker;
  private readonly detector = new CanVariantDetector();
  private readonly units = new Map<
    string,
    { telemetry: TelemetryTracker; flags: FlagFrames; packId: number | undefined }
  >();
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private lastFrameMs: number;
  private linkLost = false;
  private readonly eventListeners = new Set<(event: DeviceEvent) => void>();
  readonly stats = { framesDecoded: 0, decodeErrors: 0, transportErrors: 0, heartbeatsSent: 0 };

  constructor(private readonly options: BatteryMonitorOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.tracker = new ConditionTracker(options.deviceId);
    this.lastFrameMs = this.clock.now();
  }

  start(): void {
    if (this.unsubscribe) return;
    this.lastFrameMs = this.clock.now();
    this.unsubscribe = this.options.transport.subscribe((event) => {
      if (event.type === 'message') this.onFrame(event.message);
      else if (event.type === 'error') {
        if (event.error.code.startsWith('MF_BATTERY_TRANSPORT')) this.onTransportError(event.error);
        else this.onDecodeError(event.error);
      } else this.checkLink(true);
    });
    const readingIntervalMs = this.options.readingIntervalMs ?? 60_000;
    const linkTimeoutMs = this.options.linkTimeoutMs ?? 15_000;
    const heartbeatIntervalMs = this.options.heartbeatIntervalMs ?? 1_000;
    this.timers.push(setInterval(() => this.emitScheduled(), readingIntervalMs));
    this.timers.push(
      setInterval(() => this.checkLink(false), Math.max(50, Math.min(1_000, linkTimeoutMs / 4))),
    );
    if (heartbeatIntervalMs > 0) {
      const beat = () => {
        this.options.transport
          .send(encodeInverterHeartbeat())
          .then(() => this.stats.heartbeatsSent++)
          .catch(() => undefined);
      };
      beat();
      this.timers.push(setInterval(beat, heartbeatIntervalMs));
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  variant(): CanVariant | undefined {
    return this.detector.variant();
  }

  /** Latest telemetry per unit (meterSerial → values), for `battery monitor` and status pages. */
  snapshot(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [serial, unit] of this.units)
      out[serial] = { ...unit.telemetry.values } as Record<string, number>;
    return out;
  }

  /** Another consumer of events besides options.onEvent (e.g. BatteryFieldLink); returns unsubscribe. */
  addEventListener(listener: (event: DeviceEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** The latest value of every known quantity, as readings stamped now (not counted as sent). */
  latestReadings(): CollectedReading[] {
    const nowMs = this.clock.now();
    const out: CollectedReading[] = [];
    for (const [serial, unit] of this.units)
      out.push(...unit.telemetry.readings(serial, nowMs, undefined, false));
    return out;
  }

  activeConditions(): Condition[] {
    return this.tracker.activeConditions();
  }

  private unitFor(decoded: DecodedCan) {
    const serial =
      decoded.packId === undefined ? this.options.deviceId : `${this.options.deviceId}/pack${decoded.packId}`;
    let unit = this.units.get(serial);
    if (!unit) {
      if (this.units.size >= maxUnits) return undefined;
      unit = { telemetry: new TelemetryTracker(), flags: {}, packId: decoded.packId };
      this.units.set(serial, unit);
    }
    return { serial, unit };
  }

  private onFrame(frame: CanFrame): void {
    const nowMs = this.clock.now();
    this.detector.observe(frame);
    let decoded: DecodedCan;
    try {
      decoded = decodeCanFrame(frame);
    } catch (err) {
      this.onDecodeError(err as MeterfabricError);
      return;
    }
    // Our own heartbeat echoed by a gateway, or another node's, says nothing about the battery.
    if (decoded.kind === 'inverterHeartbeat' || decoded.kind === 'unknown') return;
    this.stats.framesDecoded++;
    this.lastFrameMs = nowMs;
    this.checkLink(false);
    const found = this.unitFor(decoded);
    if (!found) return;
    const { serial, unit } = found;
    switch (decoded.kind) {
      case 'protectionAlarm':
        unit.flags.protectionAlarm = decoded;
        this.updateFlagConditions(nowMs);
        return;
      case 'requests':
        unit.flags.requests = decoded;
        this.updateFlagConditions(nowMs);
        return;
      case 'smaAlarms':
        unit.flags.smaAlarms = decoded;
        this.updateFlagConditions(nowMs);
        return;
      case 'enableFlags':
        unit.flags.enableFlags = decoded;
        this.updateFlagConditions(nowMs);
        return;
      default: {
        unit.telemetry.apply(decoded, nowMs);
        const changed = unit.telemetry.changedSinceSent(
          this.options.changeThresholds ?? defaultChangeThresholds,
        );
        if (changed.length > 0) this.emitReadings(unit.telemetry.readings(serial, nowMs, changed));
      }
    }
  }

  private updateFlagConditions(nowMs: number): void {
    const conditions: Condition[] = [];
    for (const unit of this.units.values()) conditions.push(...conditionsOf(unit.flags, unit.packId));
    for (const event of this.tracker.update(nowMs, conditions, (c) => c.key !== 'battery.linkLost'))
      this.emitEvent(event);
  }

  private checkLink(transportClosed: boolean): void {
    const nowMs = this.clock.now();
    const timeoutMs = this.options.linkTimeoutMs ?? 15_000;
    const lost = transportClosed || nowMs - this.lastFrameMs > timeoutMs;
    if (lost === this.linkLost) return;
    this.linkLost = lost;
    const conditions: Condition[] = lost
      ? [{ key: 'battery.linkLost', details: { silentForMs: String(nowMs - this.lastFrameMs) } }]
      : [];
    // Called only when the state flips, so a raise and its clear each happen once.
    const events = this.tracker.update(nowMs, conditions, (c) => c.key === 'battery.linkLost');
    for (const event of events) this.emitEvent(event);
  }

  private emitScheduled(): void {
    const nowMs = this.clock.now();
    if (this.linkLost) return; // stale values are not re-sent as if fresh
    for (const [serial, unit] of this.units) {
      const readings = unit.telemetry.readings(serial, nowMs);
      if (readings.length > 0) this.emitReadings(readings);
    }
  }

  private emitReadings(readings: CollectedReading[]): void {
    try {
      this.options.onReadings?.(readings);
    } catch (err) {
      this.logger.error({ err }, 'battery monitor: onReadings threw');
    }
  }

  private emitEvent(event: DeviceEvent): void {
    this.logger.info({ event }, 'battery event');
    for (const listener of [this.options.onEvent, ...this.eventListeners]) {
      try {
        listener?.(event);
      } catch (err) {
        this.logger.error({ err }, 'battery monitor: an event listener threw');
      }
    }
  }

  private onTransportError(error: MeterfabricError): void {
    this.stats.transportErrors++;
    this.logger.warn({ err: error.toJSON() }, 'battery monitor: link trouble');
    this.options.onTransportError?.(error);
  }

  private onDecodeError(error: MeterfabricError): void {
    this.stats.decodeErrors++;
    this.logger.warn({ err: error.toJSON?.() ?? String(error) }, 'battery monitor: frame rejected');
    this.options.onDecodeError?.(error);
  }
}
