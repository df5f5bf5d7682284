import { describe, expect, it } from 'vitest';
import { localMidnightUtcMs } from '../../actors/domain/local-time.js';
import { closureInstants, SimulatedConcentrator } from '../../actors/simulation/concentrator.js';
import { readRegistersOverIec62056 } from '../../actors/simulation/iec62056-link.js';
import { hourMs, MeterModel } from '../../actors/simulation/meter-model.js';
import { SimulatedClock } from '../../actors/simulation/sim-clock.js';
import { ManualClock } from '../../core/clock.js';

const origin = Date.UTC(2026, 2, 28, 0, 0);

describe('meter model', () => {
  it('its six tariff registers grow by exactly the hourly load profile', () => {
    const m = new MeterModel({ serial: 'M1', seed: 1, originMs: origin });
    let sum = 0;
    for (const end of m.intervalEnds(origin, origin + 48 * hourMs)) sum += m.intervalWh(end) ?? 0;
    expect(m.totalAt(origin + 48 * hourMs) - m.totalAt(origin)).toBe(sum);
    expect(m.registersAt(origin + 48 * hourMs)).toHaveLength(6);
    expect(m.registersAt(origin + 48 * hourMs).every((r, i) => r >= (m.registersAt(origin)[i] ?? 0))).toBe(
      true,
    );
  });

  it('has no values before its origin and is deterministic for a seed', () => {
    const a = new MeterModel({ serial: 'M1', seed: 1, originMs: origin });
    const b = new MeterModel({ serial: 'M1', seed: 1, originMs: origin });
    expect(a.intervalWh(origin)).toBeUndefined();
    expect(a.intervalEnds(origin - 5 * hourMs, origin + 2 * hourMs)).toEqual([
      origin + hourMs,
      origin + 2 * hourMs,
    ]);
    expect(a.intervalWh(origin + 7 * hourMs)).toBe(b.intervalWh(origin + 7 * hourMs));
  });

  it('consumes nothing while its relay is open, pro rata within the hour', () => {
    const m = new MeterModel({ serial: 'M1', seed: 3, originMs: origin });
    const end = origin + 3 * hourMs;
    const full = m.intervalWh(end) ?? 0;
    expect(m.operateRelay('open', end - hourMs / 2)).toBe(true);
    expect(m.operateRelay('open', end - hourMs / 4)).toBe(false);
    expect(m.relayOperations).toBe(1);
    expect(m.intervalWh(end)).toBe(Math.floor(full / 2));
    expect(m.intervalWh(end + hourMs)).toBe(0);
    m.operateRelay('closed', end + hourMs);
    expect(m.intervalWh(end + 2 * hourMs)).toBeGreaterThan(0);
  });
});

describe('simulated concentrator', () => {
  it('closes each day at local midnight, also across the DST change (Rome, 29 March 2026)', () => {
    const m = new MeterModel({ serial: 'M1', seed: 1, originMs: origin });
    expect(closureInstants(m, 'Europe/Rome', origin, origin + 3 * 24 * hourMs)).toEqual([
      Date.UTC(2026, 2, 28, 23), // 29 March 00:00 CET
      Date.UTC(2026, 2, 29, 22), // 30 March 00:00 CEST
      Date.UTC(2026, 2, 30, 22),
    ]);
    expect(localMidnightUtcMs('2026-10-25', 'Europe/Rome')).toBe(Date.UTC(2026, 9, 24, 22));
  });

  it("refuses every request during an outage with the seed's socket error, and serves afterwards", async () => {
    const clock = new ManualClock(origin + 5 * hourMs);
    const m = new MeterModel({ serial: 'M1', seed: 1, originMs: origin });
    const c = new SimulatedConcentrator({
      id: 'C',
      timeZone: 'UTC',
      meters: [m],
      clock,
      outages: [{ fromMs: origin + 5 * hourMs, toMs: origin + 6 * hourMs }],
    });
    const request = {
      type: 'loadProfile' as const,
      meters: [{ serial: 'M1', afterMs: origin }],
      toMs: origin + 6 * hourMs,
    };
    await expect(c.execute(request)).rejects.toThrow('Open socket error');
    clock.set(origin + 6 * hourMs);
    const response = await c.execute(request);
    expect(response.readings.filter((r) => r.kind === 'interval').map((r) => r.timestampMs)).toEqual(
      [1, 2, 3, 4, 5, 6].map((h) => origin + h * hourMs),
    );
  });

  it('operates a relay once for two identical disconnect orders and reports the second as already open', async () => {
    const clock = new ManualClock(origin + hourMs);
    const m = new MeterModel({ serial: 'M1', seed: 1, originMs: origin });
    const c = new SimulatedConcentrator({ id: 'C', timeZone: 'UTC', meters: [m], clock });
    const order = {
      type: 'control' as const,
      action: 'disconnect' as const,
      meters: ['M1'],
      operationId: 'op',
    };
    const first = await c.execute(order);
    const second = await c.execute(order);
    expect(first.controlResults).toEqual([{ meterSerial: 'M1', action: 'disconnect', ok: true }]);
    expect(second.controlResults[0]?.detail).toBe('relay already open');
    expect(m.relayOperations).toBe(1);
    expect(first.events[0]).toMatchObject({ key: 'meter.relayOpened', deviceId: 'M1' });
  });
});

describe('IEC 62056-21 on-demand read', () => {
  it("returns the model's registers through a mode C readout (kWh with 3 decimals)", async () => {
    const clock = new ManualClock(origin + 10 * hourMs + 1_234_567);
    const m = new MeterModel({ serial: 'UAAEEDN17204606196', seed: 9, originMs: origin });
    const readings = await readRegistersOverIec62056(m, clock);
    const byCode = Object.fromEntries(
      readings.map((r) => [r.quantity.source === 'obis' ? r.quantity.code : '', r]),
    );
    expect(byCode['1.8.0']).toMatchObject({
      meterSerial: 'UAAEEDN17204606196',
      unit: 'kWh',
      kind: 'register',
      value: m.totalAt(clock.now()) / 1000,
    });
    const registers = m.registersAt(clock.now());
    for (const t of [1, 2, 3, 4]) expect(byCode[`1.8.${t}`]?.value).toBe((registers[t - 1] ?? 0) / 1000);
  });
});

describe('simulated clock', () => {
  it('runs a day in a minute at speed 1440', () => {
    let host = 1_000;
    const clock = new SimulatedClock(origin, 1440, { now: () => host });
    host += 60_000;
    expect(clock.now()).toBe(origin + 24 * hourMs);
    expect(clock.hostDelayUntil(origin + 25 * hourMs)).toBe(2_500);
  });
});
