import { describe, expect, it } from 'vitest';
import { BatteryProfile, overTemperatureC } from '../../actors/simulation/battery-profile.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { knxPowerW, knxVoltageV } from '../../actors/simulation/knx-site.js';
import { hourMs } from '../../actors/simulation/meter-model.js';
import { SimulatedBus } from '../../adapters/knx/simulator/simulated-bus.js';
import { ManualClock } from '../../core/clock.js';
import { isMeterfabricError } from '../../core/errors.js';

const origin = Date.UTC(2026, 2, 10, 0, 0);

describe('battery site profile', () => {
  it('is a function of (seed, site, hour): same seed same day, another site another day', () => {
    const a = new BatteryProfile({ seed: 3, siteId: 'BS-1' });
    const b = new BatteryProfile({ seed: 3, siteId: 'BS-1' });
    const c = new BatteryProfile({ seed: 3, siteId: 'BS-2' });
    const day = (p: BatteryProfile) =>
      Array.from({ length: 24 }, (_, h) => p.settingsAt(origin + h * hourMs));
    expect(day(a)).toEqual(day(b));
    expect(day(a)).not.toEqual(day(c));
    expect(a.initialSocPct).toBe(b.initialSocPct);
  });

  it('charges by day and discharges by night, about as much as it charged, so SOC stays in range', () => {
    const p = new BatteryProfile({ seed: 5, siteId: 'BS-7' });
    const demand = Array.from({ length: 24 }, (_, h) => p.settingsAt(origin + h * hourMs).demandA ?? 0);
    expect(demand.slice(9, 13).every((a) => a > 0)).toBe(true);
    expect(demand.slice(18, 22).every((a) => a < 0)).toBe(true);
    // GTX2500: 50 Ah. Net Ah over the day stays within a fifth of the pack.
    expect(Math.abs(demand.reduce((x, y) => x + y, 0))).toBeLessThan(10);
  });

  it('overheats past the 55 °C charge limit for exactly the configured hour', () => {
    const from = origin + 14 * hourMs;
    const p = new BatteryProfile({ seed: 1, siteId: 'BS-1', overTemperatureFromMs: from });
    expect(p.settingsAt(from - 1).temperatureC).toBeLessThan(55);
    expect(p.settingsAt(from).temperatureC).toBe(overTemperatureC);
    expect(p.settingsAt(from + hourMs - 1).temperatureC).toBe(overTemperatureC);
    expect(p.settingsAt(from + hourMs).temperatureC).toBeLessThan(55);
  });
});

describe('fleet with KNX and battery sites', () => {
  it('describes the sites for the registry without opening a socket', async () => {
    const fleet = new SimulatedFleet({
      concentrators: 1,
      metersPerConcentrator: 1,
      seed: 1,
      originMs: origin,
      clock: new ManualClock(origin),
      knxSites: 2,
      knxMetersPerSite: 3,
      batterySites: 1,
    });
    const concentrators = fleet
      .provisioning()
      .flatMap((c) => (c.type === 'upsertConcentrator' ? [[c.id, c.communicationType]] : []));
    expect(concentrators).toEqual([
      ['TD-100000', 'gprs'],
      ['KG-200000', 'knx'],
      ['KG-200001', 'knx'],
      ['BS-300000', 'can-tcp'],
    ]);
    const installs = fleet.provisioning().filter((c) => c.type === 'installMeter');
    expect(installs).toHaveLength(1 + 2 * 3 + 1);
    expect(fleet.concentrator('KG-200001')).toBe(fleet.knxSites[1]);
    expect(fleet.concentrator('BS-300000')).toBe(fleet.batterySites[0]);
    expect(fleet.knxSites.map((s) => s.meterSerials.length)).toEqual([3, 3]);
    // Stopping sites that never started is a no-op.
    await fleet.stop();
  });

  it('refuses site counts it cannot honour with a clear configuration error', () => {
    const make = (extra: object) =>
      new SimulatedFleet({
        concentrators: 0,
        metersPerConcentrator: 0,
        seed: 1,
        originMs: origin,
        clock: new ManualClock(origin),
        ...extra,
      });
    let error: unknown;
    try {
      make({ knxSites: -1, batterySites: 1.5, knxMetersPerSite: 0, batteryOverTemperatureChance: 2 });
    } catch (err) {
      error = err;
    }
    expect(isMeterfabricError(error) && error.code).toBe('MF_CONFIG_INVALID');
    expect(String((error as Error).message)).toMatch(/knxSites must be an integer from 0 to 64, not -1/);
    expect(String((error as Error).message)).toMatch(/batterySites .* not 1.5/);
    expect(String((error as Error).message)).toMatch(/knxMetersPerSite .* not 0/);
    expect(String((error as Error).message)).toMatch(/batteryOverTemperatureChance .* not 2/);
    expect(() => make({ knxSites: 65 })).toThrow(/knxSites must be an integer from 0 to 64/);
  });

  it('KNX phase voltage varies by hour in 0.5 V steps within 230 V ± 6 V', () => {
    const values = Array.from({ length: 48 }, (_, h) => knxVoltageV(1, 'KNXEM30000000', origin + h * hourMs));
    expect(new Set(values).size).toBeGreaterThan(5);
    for (const v of values) {
      expect(Math.abs(v - 230)).toBeLessThanOrEqual(6);
      expect((v * 2) % 1).toBe(0);
    }
    expect(knxVoltageV(1, 'KNXEM30000000', origin + 10)).toBe(
      knxVoltageV(1, 'KNXEM30000000', origin + hourMs - 1),
    );
  });
});

describe('KNX meter load shape on the simulated bus', () => {
  it('integrates power hour by hour, so the counter does not depend on when it is read', () => {
    const meter = {
      serial: 'KNXEM30000000',
      individualAddress: 0x1105,
      energy: { groupAddress: '5/1/20', dpt: '13.010' as const },
      powerW: 900,
      powerAt: (atMs: number) => knxPowerW(1, 'KNXEM30000000', 900, atMs),
    };
    const once = new SimulatedBus([meter], origin);
    const often = new SimulatedBus([meter], origin);
    for (const t of [0.5, 1, 1.7, 2, 2.25]) often.sync(origin + t * hourMs);
    once.sync(origin + 2.5 * hourMs);
    often.sync(origin + 2.5 * hourMs);
    const expected =
      knxPowerW(1, meter.serial, 900, origin) +
      knxPowerW(1, meter.serial, 900, origin + hourMs) +
      knxPowerW(1, meter.serial, 900, origin + 2 * hourMs) / 2;
    expect(once.meter(meter.serial)!.energyWh).toBeCloseTo(expected, 6);
    expect(often.meter(meter.serial)!.energyWh).toBeCloseTo(expected, 6);
    expect(knxPowerW(1, meter.serial, 900, origin + 19 * hourMs)).toBeGreaterThan(
      knxPowerW(1, meter.serial, 900, origin + 3 * hourMs),
    );
  });
});
