import type { DeviceEvent, DeviceEventKey } from '../../field-data.js';
import type {
  CanEnableFlags,
  CanProtectionAlarm,
  CanRequests,
  CanSmaAlarms,
  UnknownBit,
} from '../can/types.js';

/**
 * Battery conditions (protections, alarms, requests, link loss) and their de-duplication into
 * raised/cleared DeviceEvents. Pure: the monitor feeds the current set of conditions; the
 * tracker answers with the events that set implies (a condition already raised is not raised
 * again; one that disappears is cleared once).
 */
export type Condition = { key: DeviceEventKey; details: Record<string, string> };

export type FlagFrames = {
  protectionAlarm?: CanProtectionAlarm;
  requests?: CanRequests;
  smaAlarms?: CanSmaAlarms;
  enableFlags?: CanEnableFlags;
};

function unknownBitConditions(frame: string, bits: readonly UnknownBit[]): Condition[] {
  return bits.map((b) => ({
    key: 'battery.alarm',
    details: {
      flag: 'unknownBit',
      frame,
      byte: String(b.byte),
      mask: `0x${b.mask.toString(16).toUpperCase().padStart(2, '0')}`,
    },
  }));
}

const protectionKeys: Record<string, Condition> = {
  overTemperature: { key: 'battery.overTemperature', details: { kind: 'protection' } },
  underTemperature: { key: 'battery.underTemperature', details: { kind: 'protection' } },
  overVoltage: { key: 'battery.overVoltage', details: { kind: 'protection' } },
  underVoltage: { key: 'battery.underVoltage', details: { kind: 'protection' } },
  dischargeOverCurrent: {
    key: 'battery.overCurrent',
    details: { kind: 'protection', direction: 'discharge' },
  },
  chargeOverCurrent: { key: 'battery.overCurrent', details: { kind: 'protection', direction: 'charge' } },
  systemError: { key: 'battery.alarm', details: { kind: 'protection', flag: 'systemError' } },
  byte1Bit7Fault: { key: 'battery.alarm', details: { kind: 'protection', flag: 'byte1Bit7Fault' } },
};

/** The conditions a set of latest flag frames asserts (packId added for per-pack variants). */
export function conditionsOf(frames: FlagFrames, packId?: number): Condition[] {
  const out: Condition[] = [];
  const pa = frames.protectionAlarm;
  if (pa) {
    for (const [flag, on] of Object.entries(pa.protection)) {
      const c = protectionKeys[flag];
      if (on && c) out.push({ key: c.key, details: { ...c.details } });
    }
    for (const [flag, on] of Object.entries(pa.alarm)) {
      if (on) out.push({ key: 'battery.alarm', details: { kind: 'alarm', flag } });
    }
    out.push(...unknownBitConditions('0x359', pa.unknownBits));
  }
  const rq = frames.requests;
  if (rq) {
    if (rq.forceChargeRequestI) out.push({ key: 'battery.forcedChargeRequest', details: { level: 'I' } });
    if (rq.forceChargeRequestII) out.push({ key: 'battery.forcedChargeRequest', details: { level: 'II' } });
    if (rq.fullChargeRequest) out.push({ key: 'battery.fullChargeRequest', details: {} });
    out.push(...unknownBitConditions('0x35C', rq.unknownBits));
  }
  const sma = frames.smaAlarms;
  if (sma) {
    for (const flag of sma.alarms)
      out.push({ key: 'battery.alarm', details: { kind: 'alarm', flag, frame: '0x35A' } });
    for (const flag of sma.warnings)
      out.push({ key: 'battery.alarm', details: { kind: 'warning', flag, frame: '0x35A' } });
    out.push(...unknownBitConditions('0x35A', sma.unknownBits));
  }
  if (frames.enableFlags) out.push(...unknownBitConditions('0x30F', frames.enableFlags.unknownBits));
  if (packId !== undefined) for (const c of out) c.details.packId = String(packId);
  return out;
}

function conditionId(c: Condition): string {
  const details = Object.keys(c.details)
    .sort()
    .map((k) => `${k}=${c.details[k]}`)
    .join(',');
  return `${c.key}|${details}`;
}

export class ConditionTracker {
  private readonly active = new Map<string, Condition>();

  constructor(
    private readonly deviceId: string,
    /** Bound on distinct simultaneous conditions, so a babbling device cannot grow memory. */
    private readonly maxActive = 256,
  ) {}

  /**
   * `scope` limits which active conditions this update may clear: the flags of one frame family
   * must not clear the link-loss condition and vice versa.
   */
  update(
    nowMs: number,
    conditions: readonly Condition[],
    scope: (c: Condition) => boolean = () => true,
  ): DeviceEvent[] {
    const events: DeviceEvent[] = [];
    const seen = new Set<string>();
    for (const c of conditions) {
      const id = conditionId(c);
      seen.add(id);
      if (this.active.has(id) || this.active.size >= this.maxActive) continue;
      this.active.set(id, c);
      events.push(this.event(c, 'raised', nowMs));
    }
    for (const [id, c] of this.active) {
      if (!seen.has(id) && scope(c)) {
        this.active.delete(id);
        events.push(this.event(c, 'cleared', nowMs));
      }
    }
    return events;
  }

  activeConditions(): Condition[] {
    return [...this.active.values()];
  }

  private event(c: Condition, phase: 'raised' | 'cleared', timestampMs: number): DeviceEvent {
    const event: DeviceEvent = {
      deviceId: this.deviceId,
      deviceKind: 'battery',
      key: c.key,
      phase,
      timestampMs,
    };
    if (Object.keys(c.details).length > 0) event.details = { ...c.details };
    return event;
  }
}
