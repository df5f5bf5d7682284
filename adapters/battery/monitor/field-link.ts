import type { CollectedReading, DeviceEvent } from '../../field-data.js';
import type { BatteryMonitor } from './monitor.js';

/**
 * Adapts a BatteryMonitor to the head-end's FieldLink shape (actors/device/field.ts), matched
 * structurally so this adapter does not depend on actors/. A battery pushes its telemetry, so
 * `execute` answers from what the monitor has seen: the latest value of every quantity, and the
 * events raised/cleared since the previous call (each handed over exactly once).
 */
export type BatteryFieldRequest<A extends string = string> = {
  type: string;
  meters?: readonly unknown[];
  action?: A;
};
export type BatteryFieldResponse<A extends string = string> = {
  readings: CollectedReading[];
  events: DeviceEvent[];
  statusWords: never[];
  controlResults: { meterSerial: string; action: A; ok: false; detail: string }[];
};

export class BatteryFieldLink {
  private readonly pendingEvents: DeviceEvent[] = [];
  private readonly unsubscribe: () => void;
  droppedEvents = 0;

  constructor(
    private readonly monitor: BatteryMonitor,
    /** Bound on events held between two executes; beyond it the oldest go (and are counted). */
    private readonly maxPendingEvents = 10_000,
  ) {
    this.unsubscribe = monitor.addEventListener((event) => {
      this.pendingEvents.push(event);
      if (this.pendingEvents.length > this.maxPendingEvents) {
        this.pendingEvents.shift();
        this.droppedEvents++;
      }
    });
  }

  async execute<A extends string>(request: BatteryFieldRequest<A>): Promise<BatteryFieldResponse<A>> {
    const events = this.pendingEvents.splice(0, this.pendingEvents.length);
    if (request.type === 'control') {
      // A battery takes no connect/disconnect/power-reduction orders through this adapter.
      const action = request.action;
      const meters = action === undefined ? [] : (request.meters ?? []).map(String);
      const detail = 'battery sites do not accept control actions';
      return {
        readings: [],
        events,
        statusWords: [],
        controlResults:
          action === undefined
            ? []
            : meters.map((meterSerial) => ({ meterSerial, action, ok: false as const, detail })),
      };
    }
    const wantsValues = request.type === 'register' || request.type === 'initialize';
    return {
      readings: wantsValues ? this.monitor.latestReadings() : [],
      events,
      statusWords: [],
      controlResults: [],
    };
  }

  get linkLost(): boolean {
    return this.monitor.activeConditions().some((c) => c.key === 'battery.linkLost');
  }

  close(): void {
    this.unsubscribe();
  }
}
