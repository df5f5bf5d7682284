import { describe, expect, it } from 'vitest';
import { SimulatedConcentrator } from '../../actors/simulation/concentrator.js';
import { SimulatedFleet } from '../../actors/simulation/fleet.js';
import { hourMs, MeterModel } from '../../actors/simulation/meter-model.js';
import { PrepaymentAccount, prepaymentPriceCentsPerKWh } from '../../actors/simulation/prepayment.js';
import { prepaymentRows } from '../../adapters/csv/prepayment-rows.js';
import { ManualClock } from '../../core/clock.js';

const origin = Date.UTC(2026, 2, 10, 0, 0);
const serial = 'UAAEEDN17204600001';
const dayMs = 24 * hourMs;

function prepaid(): MeterModel {
  const m = new MeterModel({ serial, seed: 7, originMs: origin });
  m.prepayment = new PrepaymentAccount(m, 7);
  return m;
}

describe('prepayment account of a simulated meter', () => {
  it('charges each hour its consumption at the price and tops up by whole tokens: credit + charge - initial is a multiple of 30 EUR', () => {
    const m = prepaid();
    const account = m.prepayment!;
    let topUps = 0;
    let previous = account.at(origin);
    expect(previous).toEqual({ creditCents: account.initialCreditCents, chargedCents: 0 });
    for (let h = 1; h <= 30 * 24; h++) {
      const t = origin + h * hourMs;
      const now = account.at(t);
      const cost = Math.round(((m.intervalWh(t) ?? 0) * prepaymentPriceCentsPerKWh) / 1000);
      expect(now.chargedCents - previous.chargedCents).toBe(cost);
      const toppedUp = now.creditCents - (previous.creditCents - cost);
      expect([0, 3000]).toContain(toppedUp);
      if (toppedUp) topUps += 1;
      expect(now.creditCents).toBeGreaterThanOrEqual(500);
      previous = now;
    }
    expect(topUps).toBeGreaterThan(0);
    expect(previous.creditCents + previous.chargedCents - account.initialCreditCents).toBe(topUps * 3000);
    // The charge matches the energy used over the month at 0.25 EUR/kWh (rounded per hour).
    const kwh = (m.totalAt(origin + 30 * dayMs) - m.totalAt(origin)) / 1000;
    expect(Math.abs(previous.chargedCents - kwh * prepaymentPriceCentsPerKWh)).toBeLessThanOrEqual(
      30 * 24 * 0.5,
    );
  });

  it('charges nothing while the relay is open, and is recomputed after a relay operation', () => {
    const m = prepaid();
    const before = m.prepayment!.at(origin + 10 * hourMs);
    m.operateRelay('open', origin + 2 * hourMs);
    const after = m.prepayment!.at(origin + 10 * hourMs);
    expect(after.chargedCents).toBe(m.prepayment!.at(origin + 2 * hourMs).chargedCents);
    expect(after.chargedCents).toBeLessThan(before.chargedCents);
  });

  it('a closure of a prepayment meter carries 19.10.0 credit and 19.20.0 charge in EUR at the closure instant; PP_ rows from them', async () => {
    const clock = new ManualClock(origin + 30 * hourMs);
    const m = prepaid();
    const plain = new MeterModel({ serial: 'UAAEEDN17204600002', seed: 7, originMs: origin });
    const c = new SimulatedConcentrator({ id: 'TD-1', timeZone: 'UTC', meters: [m, plain], clock });
    const response = await c.execute({
      type: 'dailyClosure',
      closureDate: '2026-03-10',
      meters: [
        { serial, afterMs: origin },
        { serial: plain.serial, afterMs: origin },
      ],
    });
    const closure = origin + dayMs;
    const registers = m.prepayment!.at(closure);
    const pp = prepaymentRows(response.readings);
    expect(pp).toEqual([
      {
        serialnumber: serial,
        pod: '',
        register: '19.10.0',
        type: 'credit',
        value: registers.creditCents / 100,
        unit: 'EUR',
        time: closure,
      },
      {
        serialnumber: serial,
        pod: '',
        register: '19.20.0',
        type: 'charge',
        value: registers.chargedCents / 100,
        unit: 'EUR',
        time: closure,
      },
    ]);
    expect(response.readings.filter((r) => r.meterSerial === plain.serial && r.unit === 'EUR')).toEqual([]);
  });
});

describe('prepayment meters in the fleet', () => {
  const fleet = (prepaymentShare?: number) =>
    new SimulatedFleet({
      concentrators: 20,
      metersPerConcentrator: 10,
      seed: 7,
      originMs: origin,
      clock: new ManualClock(origin),
      ...(prepaymentShare !== undefined ? { prepaymentShare } : {}),
    });
  const share = (f: SimulatedFleet) =>
    [...f.meters.values()].filter((m) => m.meter.prepayment !== undefined).length / f.meters.size;

  it('are about 10 % of the meters by default, none at share 0, all at share 1', () => {
    expect(share(fleet())).toBeGreaterThan(0.05);
    expect(share(fleet())).toBeLessThan(0.15);
    expect(share(fleet(0))).toBe(0);
    expect(share(fleet(1))).toBe(1);
  });

  it('refuses a share outside 0..1 with MF_CONFIG_INVALID naming the option', () => {
    expect(() => fleet(1.5)).toThrow(
      expect.objectContaining({
        code: 'MF_CONFIG_INVALID',
        message: expect.stringMatching(/prepaymentShare must be from 0 to 1, not 1.5/),
      }),
    );
  });
});
