import { describe, expect, it } from 'vitest';
import { SimulatedConcentrator } from '../../actors/simulation/concentrator.js';
import { closureDayStartMs } from '../../actors/simulation/daily-closure.js';
import {
  meterStamp,
  readoutLines,
  readRegistersOverIec62056,
} from '../../actors/simulation/iec62056-link.js';
import { demandPeriodMs, hourMs, MeterModel } from '../../actors/simulation/meter-model.js';
import { parseDataLine } from '../../adapters/modem/iec62056/data-sets.js';
import { ManualClock } from '../../core/clock.js';

const origin = Date.UTC(2026, 2, 10, 0, 0);
const serial = 'UAAEEDN17204606196';

function bruteForceMaximum(m: MeterModel, afterMs: number, toMs: number) {
  let best: { valueW: number; timestampMs: number } | undefined;
  for (let t = afterMs + demandPeriodMs; t <= toMs; t += demandPeriodMs) {
    const w = m.quarterDemandW(t);
    if (w !== undefined && (best === undefined || w > best.valueW)) best = { valueW: w, timestampMs: t };
  }
  return best;
}

describe('maximum demand in the meter model', () => {
  it("the four quarter-hour demands of an hour average to that hour's load-profile energy (within rounding)", () => {
    const m = new MeterModel({ serial, seed: 7, originMs: origin });
    for (let h = 1; h <= 48; h++) {
      const hourEnd = origin + h * hourMs;
      const quarters = [3, 2, 1, 0].map((q) => m.quarterDemandW(hourEnd - q * demandPeriodMs) ?? Number.NaN);
      const averageW = quarters.reduce((a, b) => a + b, 0) / 4;
      expect(Math.abs(averageW - (m.intervalWh(hourEnd) ?? Number.NaN))).toBeLessThanOrEqual(1);
      // The quarters differ: demand is not simply the hourly average.
      expect(new Set(quarters).size).toBeGreaterThan(1);
    }
  });

  it("a day's maximum is its highest quarter, stamped at that quarter's end, inside the day", () => {
    const m = new MeterModel({ serial, seed: 7, originMs: origin });
    for (let d = 0; d < 3; d++) {
      const from = origin + d * 24 * hourMs;
      const to = from + 24 * hourMs;
      const md = m.maximumDemand(from, to);
      expect(md).toEqual(bruteForceMaximum(m, from, to));
      expect(md!.timestampMs % demandPeriodMs).toBe(0);
      expect(md!.timestampMs).toBeGreaterThan(from);
      expect(md!.timestampMs).toBeLessThanOrEqual(to);
      // Evening peak of the residential curve: far above the day's average power.
      const dayWh = (m.totalAt(to) - m.totalAt(from)) / 24;
      expect(md!.valueW).toBeGreaterThan(dayWh);
    }
    expect(m.maximumDemand(origin - 24 * hourMs, origin)).toBeUndefined();
  });

  it('is zero while the relay is open, and a day opened at noon peaks before noon', () => {
    const m = new MeterModel({ serial, seed: 7, originMs: origin });
    const noon = origin + 12 * hourMs;
    m.operateRelay('open', noon);
    for (let t = noon + demandPeriodMs; t <= noon + 12 * hourMs; t += demandPeriodMs)
      expect(m.quarterDemandW(t)).toBe(0);
    expect(m.maximumDemand(origin, origin + 24 * hourMs)!.timestampMs).toBeLessThanOrEqual(noon);
    expect(m.maximumDemand(origin + 24 * hourMs, origin + 48 * hourMs)).toEqual({
      valueW: 0,
      timestampMs: origin + 24 * hourMs + demandPeriodMs,
    });
  });
});

describe('maximum demand collected with the daily closure', () => {
  it('each closure carries 1.6.0 in kW at the peak of the local day it closes (Europe/Rome)', async () => {
    const clock = new ManualClock(origin + 50 * hourMs);
    const m = new MeterModel({ serial, seed: 7, originMs: origin });
    const c = new SimulatedConcentrator({ id: 'TD-1', timeZone: 'Europe/Rome', meters: [m], clock });
    const response = await c.execute({
      type: 'dailyClosure',
      closureDate: '2026-03-11',
      meters: [{ serial, afterMs: origin }],
    });
    const md = response.readings.filter((r) => r.quantity.source === 'obis' && r.quantity.code === '1.6.0');
    // Closures at Rome midnights 2026-03-10T23:00Z and 2026-03-11T23:00Z.
    const closures = [Date.UTC(2026, 2, 10, 23), Date.UTC(2026, 2, 11, 23)];
    expect(md).toHaveLength(2);
    for (const [i, closure] of closures.entries()) {
      const dayStart = closureDayStartMs(closure, 'Europe/Rome');
      const expected = m.maximumDemand(dayStart, closure)!;
      expect(md[i]).toEqual({
        meterSerial: serial,
        kind: 'dailyClosure',
        quantity: { source: 'obis', code: '1.6.0' },
        value: expected.valueW / 1000,
        unit: 'kW',
        timestampMs: expected.timestampMs,
      });
    }
    // The first local day began before the meter's origin: only quarters after it count.
    expect(closureDayStartMs(closures[0]!, 'Europe/Rome')).toBe(Date.UTC(2026, 2, 9, 23));
    expect(md[0]!.timestampMs).toBeGreaterThan(origin);
  });
});

describe('maximum demand in the IEC 62056-21 readout', () => {
  it('prints 1.6.0 as value*kW and the peak time YYMMDDhhmm (meter local time) in separate brackets', () => {
    const m = new MeterModel({ serial, seed: 7, originMs: origin });
    const now = origin + 20 * hourMs + 7 * 60_000;
    const md = m.maximumDemand(origin, now)!;
    const line = readoutLines(m, now, 'UTC').at(-1)!;
    const kw = `${Math.floor(md.valueW / 1000)}.${String(md.valueW % 1000).padStart(3, '0')}`;
    expect(line).toBe(`1.6.0(${kw}*kW)(${meterStamp(md.timestampMs, 'UTC')})`);
    expect(parseDataLine(line)).toEqual([
      { address: '1.6.0', values: [{ value: kw, unit: 'kW' }, { value: meterStamp(md.timestampMs, 'UTC') }] },
    ]);
    expect(meterStamp(Date.UTC(2026, 2, 10, 13, 15), 'UTC')).toBe('2603101315');
    expect(meterStamp(Date.UTC(2026, 2, 10, 13, 15), 'Europe/Rome')).toBe('2603101415');
    expect(meterStamp(Date.UTC(2026, 6, 10, 22, 45), 'Europe/Rome')).toBe('2607110045');
  });

  it("the head-end's IEC 62056-21 reader gets the day's maximum demand so far as a 1.6.0 kW register", async () => {
    const clock = new ManualClock(origin + 20 * hourMs + 7 * 60_000);
    const m = new MeterModel({ serial, seed: 7, originMs: origin });
    const readings = await readRegistersOverIec62056(m, clock, 2_000, 'UTC');
    const md = readings.find((r) => r.quantity.source === 'obis' && r.quantity.code === '1.6.0');
    const peak = m.maximumDemand(origin, clock.now())!;
    expect(md).toMatchObject({
      kind: 'register',
      unit: 'kW',
      value: peak.valueW / 1000,
      // The peak's own time from the stamp bracket, not the read time.
      timestampMs: peak.timestampMs,
    });
    expect(md!.timestampMs).not.toBe(clock.now());
  });
});
