import { createSocket } from 'node:dgram';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BatterySiteFieldLink } from '../../actors/device/battery-field-link.js';
import { type FleetOptions, SimulatedFleet } from '../../actors/simulation/fleet.js';
import { groundTruth } from '../../actors/simulation/ground-truth.js';
import { knxVoltageV } from '../../actors/simulation/knx-site.js';
import { hourMs } from '../../actors/simulation/meter-model.js';
import { Gtx2500Pack } from '../../adapters/battery/bms/pack.js';
import { Gtx2500Stack } from '../../adapters/battery/bms/stack.js';
import type { CanFrame } from '../../adapters/battery/can/frame.js';
import { pylonFramesOf } from '../../adapters/battery/sim/can-frames.js';
import { canetWireFormat } from '../../adapters/battery/transport/wire-formats.js';
import { ManualClock } from '../../core/clock.js';
import { waitFor } from '../support/wait.js';

// The fleet's KNX gateway and battery sites as the head-end's Device actor sees them: real
// UDP tunnelling to the KNXnet/IP simulator, real TCP to the GTX2500 site simulator.
const origin = Date.UTC(2026, 2, 10, 0, 0);
const fleets: SimulatedFleet[] = [];
afterEach(async () => {
  for (const fleet of fleets.splice(0)) await fleet.stop();
});

function sitesFleet(options: Partial<FleetOptions>) {
  const clock = new ManualClock(origin);
  const fleet = new SimulatedFleet({
    concentrators: 0,
    metersPerConcentrator: 0,
    seed: 11,
    originMs: origin,
    clock,
    batteryOverTemperatureChance: 1,
    batteryAlarmFromMs: origin + 2 * hourMs,
    batteryAlarmToMs: origin + 3 * hourMs,
    ...options,
  });
  fleets.push(fleet);
  return { clock, fleet };
}

describe('fleet KNX gateway site', () => {
  it('samples energy, power and voltage of each meter over UDP tunnelling, as the simulator sent them, and sheds load on disconnect', async () => {
    const { clock, fleet } = sitesFleet({ knxSites: 1 });
    const site = fleet.knxSites[0]!;
    expect(fleet.concentrator(site.id)).toBe(site);
    const [m1, m2] = site.meterSerials as [string, string];

    const first = await site.execute({ type: 'initialize', meters: [m1, m2] });
    expect(first.readings).toHaveLength(12); // the poll on connect and the request's, both at the same instant
    clock.set(origin + hourMs);
    const second = await site.execute({
      type: 'loadProfile',
      meters: [{ serial: m1, afterMs: origin }],
      toMs: clock.now(),
    });
    // Only the named meter; its values stamped with the fleet's clock.
    expect(second.readings.map((r) => r.meterSerial)).toEqual([m1, m1, m1]);
    expect(second.readings.every((r) => r.timestampMs === origin + hourMs)).toBe(true);
    const byDpt = (dpt: string, readings = second.readings) =>
      readings.find((r) => r.quantity.source === 'knx' && r.quantity.dpt === dpt);
    const energy0 = byDpt(
      '13.010',
      first.readings.filter((r) => r.meterSerial === m1),
    )!.value;
    // A meter drawing P watts through the hour adds P Wh (the counter floors to whole Wh);
    // the power follows a load shape, so the next hour draws something else.
    const power = byDpt(
      '14.056',
      first.readings.filter((r) => r.meterSerial === m1),
    )!.value;
    expect(power).toBeGreaterThan(0);
    expect(byDpt('13.010')!.value - energy0).toBeGreaterThanOrEqual(power - 1);
    expect(byDpt('13.010')!.value - energy0).toBeLessThanOrEqual(power + 1);
    expect(byDpt('14.027')!.value).toBe(knxVoltageV(11, m1, origin + hourMs));
    expect(byDpt('13.010')).toMatchObject({ kind: 'register', unit: 'Wh' });

    // A malformed datagram at the gateway is dropped and counted; the tunnel carries on.
    const garbage = createSocket('udp4');
    await new Promise<void>((resolve) =>
      garbage.send(Buffer.from('06100420ffff', 'hex'), site.simulator.address.port, '127.0.0.1', () =>
        resolve(),
      ),
    );
    garbage.close();
    await waitFor(() => site.simulator.stats.malformed === 1, 'the gateway to drop the datagram', 10_000);

    const off = await site.execute({
      type: 'control',
      action: 'disconnect',
      meters: [m1],
      operationId: 'op-1',
    });
    expect(off.controlResults).toEqual([{ meterSerial: m1, action: 'disconnect', ok: true }]);
    expect(off.events).toContainEqual(
      expect.objectContaining({
        key: 'meter.relayOpened',
        details: expect.objectContaining({ OPERATION: 'op-1' }),
      }),
    );
    clock.set(origin + 2 * hourMs);
    const third = await site.execute({ type: 'register', meters: [m1, m2] });
    expect(
      byDpt(
        '14.056',
        third.readings.filter((r) => r.meterSerial === m1),
      )!.value,
    ).toBe(0);
    // The energy of m1 stood still while disconnected.
    expect(
      byDpt(
        '13.010',
        third.readings.filter((r) => r.meterSerial === m1),
      )!.value,
    ).toBe(byDpt('13.010')!.value);

    // Every value the head-end got is one the simulator recorded as sent, and vice versa (m2's
    // answers to the second poll were kept and came with the third request, which names it).
    const truth = groundTruth(fleet, origin - 1, clock.now()).filter((v) => v.kind === 'knx');
    expect(truth).toHaveLength(3 * 2 * 3);
    const got = new Map(
      [...first.readings, ...second.readings, ...third.readings].map((r) => [
        `${r.meterSerial}|${r.quantity.source === 'knx' ? r.quantity.dpt : ''}|${r.timestampMs}`,
        r.value,
      ]),
    );
    expect(site.unrecorded).toBe(0);
    expect(got).toEqual(new Map(truth.map((v) => [`${v.meterSerial}|${v.code}|${v.timestampMs}`, v.value])));
  });

  it('refuses requests with a clear error once stopped', async () => {
    const { fleet } = sitesFleet({ knxSites: 1 });
    const site = fleet.knxSites[0]!;
    await site.execute({ type: 'register', meters: [] });
    await fleet.stop();
    await expect(site.execute({ type: 'register', meters: [] })).rejects.toThrow(
      /KNX site KG-200000 is stopped/,
    );
  });
});

describe('fleet battery site', () => {
  it('samples SOC, SOH, voltage, current and temperature over TCP as broadcast, and raises then clears over-temperature', async () => {
    const { clock, fleet } = sitesFleet({ batterySites: 1 });
    const site = fleet.batterySites[0]!;
    const responses = [];
    for (let h = 0; h <= 4; h++) {
      clock.set(origin + h * hourMs);
      responses.push(
        await site.execute({
          type: 'loadProfile',
          meters: [{ serial: site.deviceId, afterMs: 0 }],
          toMs: clock.now(),
        }),
      );
    }
    const readings = responses.flatMap((r) => r.readings);
    expect(readings).toHaveLength(5 * 5);
    expect(
      new Set(readings.map((r) => (r.quantity.source === 'battery' ? r.quantity.quantity : ''))),
    ).toEqual(new Set(['stateOfCharge', 'stateOfHealth', 'voltage', 'current', 'temperature']));
    for (const [h, sample] of site.samples.entries()) {
      const at = readings.filter((r) => r.timestampMs === origin + h * hourMs);
      const value = (q: string) =>
        at.find((r) => r.quantity.source === 'battery' && r.quantity.quantity === q)?.value;
      expect(value('stateOfCharge')).toBe(sample.stateOfCharge);
      expect(value('voltage')).toBeCloseTo(sample.voltage, 6);
      expect(value('current')).toBeCloseTo(sample.current, 6);
      expect(value('temperature')).toBeCloseTo(sample.temperature, 6);
    }
    // The room overheats from hour 2 to hour 3: the protection is raised at the hour-2 sample
    // and cleared at the hour-3 sample, each once.
    const events = responses.flatMap((r) => r.events);
    expect(events.map((e) => [e.key, e.phase, e.timestampMs])).toEqual([
      ['battery.overTemperature', 'raised', origin + 2 * hourMs],
      ['battery.overTemperature', 'cleared', origin + 3 * hourMs],
    ]);
    const truthEvents = groundTruth(fleet, origin - 1, clock.now()).filter((v) => v.kind === 'batteryEvent');
    expect(truthEvents.map((v) => [v.code, v.timestampMs])).toEqual([
      ['battery.overTemperature:raised', origin + 2 * hourMs],
      ['battery.overTemperature:cleared', origin + 3 * hourMs],
    ]);

    const refused = await site.execute({
      type: 'control',
      action: 'disconnect',
      meters: [site.deviceId],
      operationId: 'op-2',
    });
    expect(refused.controlResults[0]).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/takes no disconnect orders/),
    });
  });

  it('in an outage refuses at once with a clear error and puts nothing on the wire, then samples again', async () => {
    const { clock, fleet } = sitesFleet({
      batterySites: 1,
      outageChance: 1,
      outageFromMs: origin + hourMs,
      outageToMs: origin + 2 * hourMs,
    });
    const site = fleet.batterySites[0]!;
    const outage = site.outages[0]!;
    expect(outage.fromMs).toBe(origin + hourMs);
    await site.execute({ type: 'register', meters: [] });
    clock.set(origin + hourMs + 30 * 60_000);
    const startedAt = Date.now();
    await expect(site.execute({ type: 'register', meters: [] })).rejects.toThrow(
      'battery site BS-300000 is not reachable (no route to host)',
    );
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    clock.set(outage.toMs);
    const after = await site.execute({ type: 'register', meters: [] });
    expect(after.readings).toHaveLength(5);
    expect(site.samples.map((s) => s.timestampMs)).toEqual([origin, outage.toMs]);
  });

  it('is deterministic per seed: two fleets with the same seed broadcast the same values', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const { clock, fleet } = sitesFleet({ batterySites: 1 });
      const site = fleet.batterySites[0]!;
      for (let h = 0; h <= 3; h++) {
        clock.set(origin + h * hourMs);
        await site.execute({ type: 'register', meters: [] });
      }
      runs.push(site.samples);
    }
    expect(runs[0]).toEqual(runs[1]);
    expect(new Set(runs[0]!.map((s) => s.stateOfCharge)).size).toBeGreaterThan(1);
  });
});

describe('BatterySiteFieldLink on a CANET stream', () => {
  it('rejects an out-of-range frame with a counted decode error and samples the next whole cycle intact', async () => {
    const server = createServer();
    const sockets: Socket[] = [];
    server.on('connection', (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const clock = new ManualClock(origin);
    const link = new BatterySiteFieldLink({
      deviceId: 'BAT-X',
      gateway: { host: '127.0.0.1', port },
      settleMs: 5_000,
      stampClock: clock,
      monitor: { heartbeatIntervalMs: 0, linkTimeoutMs: 86_400_000 },
    });
    try {
      link.start();
      await waitFor(() => sockets.length > 0, 'the link to connect', 10_000);
      const send = (frames: CanFrame[]) => {
        for (const frame of frames) sockets[0]!.write(canetWireFormat.encode(frame));
      };
      const packClock = new ManualClock(origin);
      const stack = new Gtx2500Stack([new Gtx2500Pack({ clock: packClock, socPct: 61 })], packClock);

      const first = link.execute({ type: 'register', meters: ['BAT-X'] });
      send(pylonFramesOf(stack.step()));
      const firstSoc = (await first).readings.find(
        (r) => r.quantity.source === 'battery' && r.quantity.quantity === 'stateOfCharge',
      );
      expect(firstSoc).toMatchObject({ value: 61, timestampMs: origin, meterSerial: 'BAT-X' });

      // A 0x355 claiming 250 % SOC: rejected, counted, never sampled.
      clock.set(origin + hourMs);
      const second = link.execute({ type: 'register', meters: ['BAT-X'] });
      send([{ id: 0x355, extended: false, data: Uint8Array.from([250, 0, 98, 0]) }]);
      stack.packs[0]!.setSocPct(64);
      send(pylonFramesOf(stack.step()));
      const readings = (await second).readings;
      expect(
        readings.find((r) => r.quantity.source === 'battery' && r.quantity.quantity === 'stateOfCharge'),
      ).toMatchObject({
        value: 64,
        timestampMs: origin + hourMs,
      });
      expect(readings.every((r) => r.value !== 250)).toBe(true);
      expect(link.stats.decodeErrors).toBe(1);

      // Nothing broadcast: a clear error naming the site, not stale values.
      await expect(link.execute({ type: 'register', meters: ['BAT-X'] })).rejects.toThrow(
        /battery site BAT-X is not reachable: no broadcast within 5000 ms/,
      );
    } finally {
      await link.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
