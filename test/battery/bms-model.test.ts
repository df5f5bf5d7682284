import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FullChargeTracker } from '../../adapters/battery/bms/full-charge.js';
import { isLit, ledPanel, levelBand } from '../../adapters/battery/bms/leds.js';
import { Gtx2500Pack } from '../../adapters/battery/bms/pack.js';
import {
  defaultRecovery,
  evaluateProtections,
  forcedRechargeRequested,
  noProtections,
  type Protections,
} from '../../adapters/battery/bms/rules.js';
import { Gtx2500Stack } from '../../adapters/battery/bms/stack.js';
import { ManualClock } from '../../core/clock.js';

const calm = { voltageV: 51.2, currentA: 0, temperatureC: 25 };

function tripped(m: Partial<typeof calm>): (keyof Protections)[] {
  const state = evaluateProtections({ ...calm, ...m }, { ...noProtections }, 0);
  return (Object.keys(noProtections) as (keyof Protections)[]).filter((k) => state[k]);
}

describe('GTX2500 protection rules at and around each threshold (manual §9.1)', () => {
  const table: [string, Partial<typeof calm>, (keyof Protections)[]][] = [
    // (a) no charge above 55 °C or below −10 °C
    ['54.9 °C charges', { temperatureC: 54.9 }, []],
    ['55.0 °C still charges (not above 55)', { temperatureC: 55 }, []],
    ['55.1 °C blocks charge', { temperatureC: 55.1 }, ['chargeOverTemperature']],
    ['−10.0 °C still charges', { temperatureC: -10 }, []],
    ['−10.1 °C blocks charge', { temperatureC: -10.1 }, ['chargeUnderTemperature']],
    // (b) no discharge above 60 °C or below −20 °C
    ['60.0 °C still discharges', { temperatureC: 60 }, ['chargeOverTemperature']],
    [
      '60.1 °C blocks discharge too',
      { temperatureC: 60.1 },
      ['chargeOverTemperature', 'dischargeOverTemperature'],
    ],
    ['−20.0 °C still discharges', { temperatureC: -20 }, ['chargeUnderTemperature']],
    [
      '−20.1 °C blocks discharge too',
      { temperatureC: -20.1 },
      ['chargeUnderTemperature', 'dischargeUnderTemperature'],
    ],
    // (c) protection above 50 A, either direction
    ['+50.0 A is allowed', { currentA: 50 }, []],
    ['+50.1 A trips charge over-current', { currentA: 50.1 }, ['chargeOverCurrent']],
    ['−50.0 A is allowed', { currentA: -50 }, []],
    ['−50.1 A trips discharge over-current', { currentA: -50.1 }, ['dischargeOverCurrent']],
    // (d) charge protection at ≥ 56 V
    ['55.99 V charges', { voltageV: 55.99 }, []],
    ['56.00 V trips charge protection', { voltageV: 56 }, ['chargeOverVoltage']],
    // (e) discharge protection at ≤ 45.6 V
    ['45.61 V discharges', { voltageV: 45.61 }, []],
    ['45.60 V trips discharge protection', { voltageV: 45.6 }, ['dischargeUnderVoltage']],
  ];
  for (const [name, m, expected] of table) {
    it(name, () => {
      expect(tripped(m)).toEqual(expected);
    });
  }

  it('voltage protections clear only past the hysteresis (our choice: 0.4 V)', () => {
    let s = evaluateProtections({ ...calm, voltageV: 56 }, { ...noProtections }, 0);
    s = evaluateProtections({ ...calm, voltageV: 55.7 }, s, 1);
    expect(s.chargeOverVoltage).toBe(true);
    s = evaluateProtections({ ...calm, voltageV: 55.59 }, s, 2);
    expect(s.chargeOverVoltage).toBe(false);
  });

  it('over-current holds for the hold time, then clears when the current is back under 50 A', () => {
    let s = evaluateProtections({ ...calm, currentA: -55 }, { ...noProtections }, 0);
    s = evaluateProtections({ ...calm, currentA: 0 }, s, defaultRecovery.overCurrentHoldMs - 1);
    expect(s.dischargeOverCurrent).toBe(true);
    s = evaluateProtections({ ...calm, currentA: 0 }, s, defaultRecovery.overCurrentHoldMs);
    expect(s.dischargeOverCurrent).toBe(false);
  });

  it('temperature protection clears as soon as the temperature is back inside the range (no hysteresis by default)', () => {
    let s = evaluateProtections({ ...calm, temperatureC: 58 }, { ...noProtections }, 0);
    expect(s.chargeOverTemperature).toBe(true);
    s = evaluateProtections({ ...calm, temperatureC: 55 }, s, 1);
    expect(s.chargeOverTemperature).toBe(false);
  });

  it('forced recharge below 8 % SOC: 7.99 requests, 8.00 does not', () => {
    expect(forcedRechargeRequested(7.99)).toBe(true);
    expect(forcedRechargeRequested(8)).toBe(false);
    expect(forcedRechargeRequested(0)).toBe(true);
  });

  it('property: inside every limit nothing trips', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 45.61, max: 55.99, noNaN: true }),
        fc.double({ min: -50, max: 50, noNaN: true }),
        fc.double({ min: -10, max: 55, noNaN: true }),
        (voltageV, currentA, temperatureC) => tripped({ voltageV, currentA, temperatureC }).length === 0,
      ),
    );
  });
});

describe('full-charge request: SOC below 97 % for a month, in the 03:00–06:00 window', () => {
  const day = 24 * 3600_000;
  const month = 30 * day;
  const at = (d: number, h: number, m = 0) => d * day + h * 3600_000 + m * 60_000;

  it('is owed after 30 days below 97 % and requested only inside 03:00–06:00', () => {
    const t = new FullChargeTracker();
    expect(t.update(at(0, 4), 60)).toEqual({ owed: false, request: false });
    expect(t.update(at(0, 4) + month - 1, 60)).toEqual({ owed: false, request: false });
    expect(t.update(at(0, 4) + month, 60)).toEqual({ owed: true, request: true });
    expect(t.update(at(30, 2, 59), 60).request).toBe(false);
    expect(t.update(at(31, 3, 0), 60).request).toBe(true);
    expect(t.update(at(31, 5, 59), 60).request).toBe(true);
    expect(t.update(at(31, 6, 0), 60).request).toBe(false);
  });

  it('SOC reaching 97 % restarts the month; 96.9 % does not', () => {
    const t = new FullChargeTracker();
    t.update(0, 50);
    t.update(month - day, 97);
    expect(t.update(month + at(0, 4), 50).owed).toBe(false);
    const u = new FullChargeTracker();
    u.update(0, 50);
    u.update(month - day, 96.9);
    expect(u.update(at(30, 4), 50).owed).toBe(true);
  });

  it('once owed, it stands until the pack reaches 100 %', () => {
    const t = new FullChargeTracker();
    t.update(0, 50);
    t.update(at(30, 4), 50);
    expect(t.update(at(31, 4), 98).owed).toBe(true);
    expect(t.update(at(31, 5), 100)).toEqual({ owed: false, request: false });
  });

  it("the window follows the site's UTC offset", () => {
    const t = new FullChargeTracker({
      windowStartHour: 3,
      windowEndHour: 6,
      utcOffsetMinutes: 60,
      belowForMs: month,
      socThresholdPct: 97,
    });
    expect(t.inWindow(at(0, 2, 0))).toBe(true); // 03:00 local
    expect(t.inWindow(at(0, 5, 0))).toBe(false); // 06:00 local
  });
});

describe('LED panel (manual §5.2.2 tables)', () => {
  it('level bands switch at 17/18, 33/34, 50/51, 66/67, 83/84 %', () => {
    const cases: [number, number][] = [
      [0, 1],
      [17, 1],
      [17.9, 1],
      [18, 2],
      [33, 2],
      [34, 3],
      [50, 3],
      [51, 4],
      [66, 4],
      [67, 5],
      [83, 5],
      [84, 6],
      [100, 6],
    ];
    for (const [soc, band] of cases) expect(levelBand(soc), `${soc} %`).toBe(band);
  });

  it('discharging rows: L8 flash 3, L7 off, L1..Lband lit', () => {
    expect(ledPanel('discharging', 10)).toEqual({
      L1: 'on',
      L2: 'off',
      L3: 'off',
      L4: 'off',
      L5: 'off',
      L6: 'off',
      L7: 'off',
      L8: 'flash3',
    });
    expect(ledPanel('discharging', 60)).toEqual({
      L1: 'on',
      L2: 'on',
      L3: 'on',
      L4: 'on',
      L5: 'off',
      L6: 'off',
      L7: 'off',
      L8: 'flash3',
    });
    expect(ledPanel('discharging', 90)).toMatchObject({ L1: 'on', L6: 'on' });
  });

  it('charging rows 51–66, 67–83, 84–100 %: the highest level LED flashes (flash 2), the rest are lit, L8 on', () => {
    expect(ledPanel('charging', 55)).toEqual({
      L1: 'on',
      L2: 'on',
      L3: 'on',
      L4: 'flash2',
      L5: 'off',
      L6: 'off',
      L7: 'off',
      L8: 'on',
    });
    expect(ledPanel('charging', 70)).toMatchObject({ L4: 'on', L5: 'flash2', L6: 'off' });
    expect(ledPanel('charging', 90)).toMatchObject({ L5: 'on', L6: 'flash2' });
  });

  it('full charged: all level LEDs and L8 on; protection and fault: only L7; UVP and shutdown: all off; standby: L8 flash 1', () => {
    expect(ledPanel('fullCharged', 100)).toEqual({
      L1: 'on',
      L2: 'on',
      L3: 'on',
      L4: 'on',
      L5: 'on',
      L6: 'on',
      L7: 'off',
      L8: 'on',
    });
    for (const mode of ['chargeProtection', 'dischargeProtection', 'fault'] as const) {
      expect(ledPanel(mode, 50)).toEqual({
        L1: 'off',
        L2: 'off',
        L3: 'off',
        L4: 'off',
        L5: 'off',
        L6: 'off',
        L7: 'on',
        L8: 'off',
      });
    }
    for (const mode of ['underVoltage', 'shutdown'] as const)
      expect(Object.values(ledPanel(mode, 50)).every((p) => p === 'off')).toBe(true);
    expect(ledPanel('standby', 40)).toMatchObject({ L8: 'flash1', L3: 'on', L4: 'off' });
  });

  it('flash timings: flash 1 = 0.25 s on / 3.75 s off, flash 2 = 0.5/0.5, flash 3 = 0.5/1.5', () => {
    expect([0, 249, 250, 3999, 4000].map((t) => isLit('flash1', t))).toEqual([
      true,
      true,
      false,
      false,
      true,
    ]);
    expect([0, 499, 500, 999, 1000].map((t) => isLit('flash2', t))).toEqual([true, true, false, false, true]);
    expect([0, 499, 500, 1999, 2000].map((t) => isLit('flash3', t))).toEqual([
      true,
      true,
      false,
      false,
      true,
    ]);
  });
});

describe('pack model over time (clock injected)', () => {
  it('integrates SOC and energy: 25 A for one hour charges 50 % of 50 Ah', () => {
    const clock = new ManualClock(0);
    const pack = new Gtx2500Pack({ clock, socPct: 20 });
    pack.setDemandCurrentA(25);
    pack.step();
    clock.advance(3600_000);
    const s = pack.step();
    expect(s.socPct).toBeCloseTo(70, 5);
    expect(s.chargedEnergyWh).toBeGreaterThan(1200);
    expect(s.mode).toBe('charging');
  });

  it('over-temperature blocks charging: the current drops to 0, L7 lights, and it recovers when cooled', () => {
    const clock = new ManualClock(0);
    const pack = new Gtx2500Pack({ clock, socPct: 50 });
    pack.setDemandCurrentA(20);
    pack.setTemperatureC(56);
    let s = pack.step();
    expect(s.protections.chargeOverTemperature).toBe(true);
    expect(s.currentA).toBe(0);
    expect(s.chargeAllowed).toBe(false);
    expect(s.leds.L7).toBe('on');
    pack.setTemperatureC(40);
    clock.advance(1000);
    s = pack.step();
    expect(s.protections.chargeOverTemperature).toBe(false);
    expect(s.currentA).toBe(20);
  });

  it('deep discharge: SOC falls through 8 % (forced recharge) and then hits 45.6 V (discharge protection, UVP LEDs)', () => {
    const clock = new ManualClock(0);
    const pack = new Gtx2500Pack({ clock, socPct: 12 });
    const stack = new Gtx2500Stack([pack], clock);
    stack.setDemandCurrentA(-25);
    let s = stack.step();
    expect(s.forceChargeRequest).toBe(false);
    let sawForce = false;
    for (let i = 0; i < 200 && !s.protections.dischargeUnderVoltage; i++) {
      clock.advance(60_000);
      s = stack.step();
      if (s.forceChargeRequest) sawForce = true;
    }
    expect(sawForce).toBe(true);
    expect(s.protections.dischargeUnderVoltage).toBe(true);
    expect(s.dischargeEnable).toBe(false);
    expect(s.dischargeCurrentLimitA).toBe(0);
    expect(s.packs[0]!.mode).toBe('underVoltage');
  });
});

describe('parallel stack', () => {
  it('rejects 0 or 5 packs with a typed error', () => {
    const clock = new ManualClock(0);
    expect(() => new Gtx2500Stack([], clock)).toThrow(expect.objectContaining({ code: 'MF_BATTERY_CONFIG' }));
    const five = Array.from({ length: 5 }, () => new Gtx2500Pack({ clock }));
    expect(() => new Gtx2500Stack(five, clock)).toThrow(/1 to 4 packs/);
  });

  it('addresses packs automatically in link order and aggregates like a master', () => {
    const clock = new ManualClock(0);
    const packs = [40, 50, 60, 70].map((socPct) => new Gtx2500Pack({ clock, socPct }));
    const stack = new Gtx2500Stack(packs, clock);
    expect(packs.map((p) => p.packId)).toEqual([1, 2, 3, 4]);
    expect(Gtx2500Stack.rs485AddressOf(1)).toBe(0x02);
    expect(Gtx2500Stack.rs485AddressOf(4)).toBe(0x05);
    packs[2]!.setTemperatureC(30);
    stack.setDemandCurrentA(-40);
    const s = stack.step();
    expect(s.packCount).toBe(4);
    expect(s.socPct).toBe(55);
    expect(s.currentA).toBe(-40);
    expect(s.packs.map((p) => p.currentA)).toEqual([-10, -10, -10, -10]);
    expect(s.temperatureC).toBe(30);
    expect(s.chargeCurrentLimitA).toBe(100);
    expect(s.socSpreadPct).toBe(30);
  });

  it('SOC imbalance: one level LED apart is normal, two is not (manual §9.1 3b)', () => {
    const clock = new ManualClock(0);
    const near = new Gtx2500Stack(
      [new Gtx2500Pack({ clock, socPct: 50 }), new Gtx2500Pack({ clock, socPct: 51 })],
      clock,
    ).step();
    expect(near.socImbalance).toBe(false);
    const far = new Gtx2500Stack(
      [new Gtx2500Pack({ clock, socPct: 50 }), new Gtx2500Pack({ clock, socPct: 67 })],
      clock,
    ).step();
    expect(far.socImbalance).toBe(true);
  });

  it('one hot pack blocks charging for the whole stack and zeroes CCL', () => {
    const clock = new ManualClock(0);
    const packs = [new Gtx2500Pack({ clock }), new Gtx2500Pack({ clock })];
    const stack = new Gtx2500Stack(packs, clock);
    packs[1]!.setTemperatureC(57);
    stack.setDemandCurrentA(20);
    const s = stack.step();
    expect(s.protections.chargeOverTemperature).toBe(true);
    expect(s.chargeEnable).toBe(false);
    expect(s.chargeCurrentLimitA).toBe(0);
    expect(s.dischargeEnable).toBe(true);
  });
});
