import { localMidnightUtcMs, localTime, previousDate } from '../domain/local-time.js';
import { closureInstants } from './concentrator.js';
import type { SimulatedFleet } from './fleet.js';
import { siteTruth } from './site-truth.js';

/**
 * Every value the simulated field produced in a window, enumerated from the deterministic
 * models (after the run, so relay operations are included). The end-to-end tests compare the
 * head-end's output with this, value by value.
 */

export type TruthKind =
  | 'interval'
  | 'dailyClosure'
  | 'voltage'
  | 'statusWord'
  | 'statusAlarm'
  /** A KNX device's value (code: its DPT). */
  | 'knx'
  /** A battery's broadcast value (code: the battery quantity). */
  | 'battery'
  /** A battery protection raised or cleared (code: `<event key>:<phase>`). */
  | 'batteryEvent';

export type TruthValue = {
  kind: TruthKind;
  meterSerial: string;
  pod: string;
  concentratorId: string;
  /**
   * OBIS code ('1.8.0'..'1.8.6'; with the closure also '1.6.0' maximum demand in kW at its
   * peak time and, for prepayment meters, '19.10.0' credit and '19.20.0' charge in EUR;
   * '32.7.0'), 'profile', the status bit for alarms, a KNX DPT, a battery quantity.
   */
  code: string;
  timestampMs: number;
  value: number;
};

/**
 * Every OBIS code a 'dailyClosure' truth value may carry: the energy registers (total and six
 * tariffs) and what is collected with the closure, maximum demand per direction (kW, at its
 * peak time) and a prepayment meter's credit and charge (EUR). Output checkers map the CIM
 * ReadingTypes of exactly these codes back to truth.
 */
export const dailyClosureCodes = [
  '1.8.0',
  '1.8.1',
  '1.8.2',
  '1.8.3',
  '1.8.4',
  '1.8.5',
  '1.8.6',
  '1.6.0',
  '2.6.0',
  '19.10.0',
  '19.20.0',
] as const;

export function truthKey(v: Pick<TruthValue, 'kind' | 'meterSerial' | 'code' | 'timestampMs'>): string {
  return `${v.kind}|${v.meterSerial}|${v.code}|${v.timestampMs}`;
}

/**
 * Values with instants in (fromMs, toMs]; alarms and status words of days closed in the window;
 * the KNX and battery sites' values as they recorded them (site-truth.ts).
 */
export function groundTruth(fleet: SimulatedFleet, fromMs: number, toMs: number): TruthValue[] {
  const out: TruthValue[] = [];
  for (const concentrator of fleet.concentrators) {
    for (const meter of concentrator.meters.values()) {
      const pod = fleet.meters.get(meter.serial)?.pod ?? '';
      const base = { meterSerial: meter.serial, pod, concentratorId: concentrator.id };
      for (const end of meter.intervalEnds(fromMs, toMs))
        out.push({
          ...base,
          kind: 'interval',
          code: 'profile',
          timestampMs: end,
          value: meter.intervalWh(end) ?? 0,
        });
      for (const vv of meter.voltageVariations(fromMs, toMs))
        out.push({ ...base, kind: 'voltage', code: '32.7.0', timestampMs: vv.timestampMs, value: vv.valueV });
      for (const instant of closureInstants(meter, concentrator.timeZone, fromMs, toMs)) {
        const registers = meter.registersAt(instant);
        const total = registers.reduce((a, b) => a + b, 0);
        for (const [i, value] of [total, ...registers].entries())
          out.push({ ...base, kind: 'dailyClosure', code: `1.8.${i}`, timestampMs: instant, value });
        const dayStart = localMidnightUtcMs(
          previousDate(localTime(instant, concentrator.timeZone).date),
          concentrator.timeZone,
        );
        // Collected with the closure: the day's maximum demand (stamped at its peak) and a
        // prepayment meter's credit registers (stamped at the closure).
        const md = meter.maximumDemand(dayStart, instant);
        if (md)
          out.push({
            ...base,
            kind: 'dailyClosure',
            code: '1.6.0',
            timestampMs: md.timestampMs,
            value: md.valueW / 1000,
          });
        if (meter.prepayment) {
          const pp = meter.prepayment.at(instant);
          out.push(
            {
              ...base,
              kind: 'dailyClosure',
              code: '19.10.0',
              timestampMs: instant,
              value: pp.creditCents / 100,
            },
            {
              ...base,
              kind: 'dailyClosure',
              code: '19.20.0',
              timestampMs: instant,
              value: pp.chargedCents / 100,
            },
          );
        }
        let word = 0;
        for (const alarm of meter.statusAlarms(dayStart, instant)) {
          word |= 1 << alarm.bit;
          out.push({
            ...base,
            kind: 'statusAlarm',
            code: String(alarm.bit),
            timestampMs: alarm.timestampMs,
            value: 1 << alarm.bit,
          });
        }
        out.push({ ...base, kind: 'statusWord', code: 'word', timestampMs: instant, value: word });
      }
    }
  }
  out.push(...siteTruth(fleet, fromMs, toMs));
  return out;
}
