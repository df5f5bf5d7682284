import { type Clock, systemClock } from '../../../core/clock.js';
import { isMeterfabricError, type MeterfabricError } from '../../../core/errors.js';
import { type Logger, silentLogger } from '../../../core/logger.js';
import type { CollectedReading, DeviceEvent } from '../../field-data.js';
import { rs485MasterAddress } from '../bms/stack.js';
import { commands } from '../rs485/commands.js';
import type { Rs485Client } from '../transport/rs485-client.js';
import { type Condition, ConditionTracker } from './conditions.js';
import { conditionsOfAlarmReply, conditionsOfManagement } from './rs485-conditions.js';
import { type ChangeThresholds, defaultChangeThresholds, TelemetryTracker } from './telemetry.js';

export type BatteryRs485MonitorOptions = {
  deviceId: string;
  client: Rs485Client;
  /** Polling cadence (RS485 is request/reply: the schedule is the only way values arrive). */
  pollIntervalMs?: number;
  /** Consecutive failed polls before battery.linkLost is raised. */
  failuresBeforeLinkLost?: number;
  clock?: Clock;
  changeThresholds?: ChangeThresholds;
  onReadings?: (readings: CollectedReading[]) => void;
  onEvent?: (event: DeviceEvent) => void;
  onError?: (error: MeterfabricError) => void;
  logger?: Logger;
};

/**
 * A battery site polled over RS485 (Pylontech ASCII through a serial server): 0x42 for the
 * whole system, 0x44 per pack, 0x92 at the master. Produces the same readings and events as
 * the CAN BatteryMonitor: changed values immediately after each poll, all values every
 * `fullReadingEvery` polls, de-duplicated raised/cleared events, link loss after N failed polls.
 */
export class BatteryRs485Monitor {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly tracker: ConditionTracker;
  private readonly units = new Map<string, TelemetryTracker>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private failures = 0;
  private linkLost = false;
  readonly stats = { polls: 0, failedPolls: 0 };

  constructor(private readonly options: BatteryRs485MonitorOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.tracker = new ConditionTracker(options.deviceId);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = async () => {
      await this.pollOnce();
      if (this.running) this.timer = setTimeout(loop, this.options.pollIntervalMs ?? 10_000);
    };
    void loop();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private unit(serial: string): TelemetryTracker {
    let t = this.units.get(serial);
    if (!t) {
      t = new TelemetryTracker(Math.max(10_000, 3 * (this.options.pollIntervalMs ?? 10_000)));
      this.units.set(serial, t);
    }
    return t;
  }

  /** One poll cycle; never throws (failures become events and onError calls). */
  async pollOnce(): Promise<void> {
    const client = this.options.client;
    this.stats.polls++;
    try {
      const analog = await client.request(commands.analogValues, rs485MasterAddress, { allPacks: true });
      if (analog.command !== commands.analogValues) return;
      const nowMs = this.clock.now();
      const packs = analog.value.packs;
      const serialOf = (i: number) =>
        packs.length === 1 ? this.options.deviceId : `${this.options.deviceId}/pack${i + 1}`;
      const conditions: Condition[] = [];
      for (let i = 0; i < packs.length; i++) {
        const p = packs[i]!;
        const t = this.unit(serialOf(i));
        t.applyMeasurement(p.voltageV, p.currentA, Math.max(...p.temperaturesC), nowMs);
        if (p.totalCapacityAh > 0)
          t.applyValues({
            stateOfCharge: Math.round((p.remainingCapacityAh / p.totalCapacityAh) * 1000) / 10,
          });
        const alarms = await client.request(commands.alarmInfo, rs485MasterAddress + i);
        if (alarms.command === commands.alarmInfo) {
          conditions.push(...conditionsOfAlarmReply(alarms.value, packs.length === 1 ? undefined : i + 1));
        }
      }
      const management = await client.request(commands.chargeManagement, rs485MasterAddress);
      if (management.command === commands.chargeManagement) {
        const m = management.value;
        this.unit(serialOf(0)).applyValues({
          chargeVoltageLimit: m.chargeVoltageLimitV,
          chargeCurrentLimit: m.chargeCurrentLimitA,
          dischargeCurrentLimit: Math.abs(m.dischargeCurrentLimitA),
        });
        conditions.push(...conditionsOfManagement(m));
      }
      this.succeeded(nowMs, conditions);
    } catch (err) {
      if (!isMeterfabricError(err)) throw err;
      this.failed(err);
    }
  }

  private succeeded(nowMs: number, conditions: Condition[]): void {
    this.failures = 0;
    if (this.linkLost) {
      this.linkLost = false;
      this.emitEvents(this.tracker.update(nowMs, [], (c) => c.key === 'battery.linkLost'));
    }
    this.emitEvents(this.tracker.update(nowMs, conditions, (c) => c.key !== 'battery.linkLost'));
    const fullEvery = this.stats.polls % 6 === 1; // a full set on the first poll and every 6th after
    for (const [serial, t] of this.units) {
      const quantities = fullEvery
        ? undefined
        : t.changedSinceSent(this.options.changeThresholds ?? defaultChangeThresholds);
      if (quantities && quantities.length === 0) continue;
      const readings = t.readings(serial, nowMs, quantities);
      if (readings.length > 0) this.safely(() => this.options.onReadings?.(readings));
    }
  }

  private failed(err: MeterfabricError): void {
    this.stats.failedPolls++;
    this.failures++;
    this.logger.warn({ err: err.toJSON() }, 'battery RS485 poll failed');
    this.safely(() => this.options.onError?.(err));
    if (!this.linkLost && this.failures >= (this.options.failuresBeforeLinkLost ?? 3)) {
      this.linkLost = true;
      const nowMs = this.clock.now();
      const lost: Condition = {
        key: 'battery.linkLost',
        details: { failedPolls: String(this.failures), lastError: err.code },
      };
      this.emitEvents(this.tracker.update(nowMs, [lost], (c) => c.key === 'battery.linkLost'));
    }
  }

  private emitEvents(events: DeviceEvent[]): void {
    for (const event of events) this.safely(() => this.options.onEvent?.(event));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err }, 'battery RS485 monitor: a listener threw');
    }
  }
}
