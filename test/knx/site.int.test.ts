import { afterAll, describe, expect, it } from 'vitest';
import type { CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import { GatewaySimulator } from '../../adapters/knx/simulator/gateway-simulator.js';
import { KnxSite } from '../../adapters/knx/site.js';
import { waitFor } from '../support/wait.js';

// KnxSite (the head-end's seam) against the gateway simulator over real UDP.
describe('KnxSite against the gateway simulator', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  const meters = [
    {
      serial: 'M-1',
      individualAddress: 0x1105,
      energy: { groupAddress: '5/1/20', dpt: '13.010' as const },
      power: { groupAddress: '5/1/21' },
      relay: { groupAddress: '5/1/22' },
      powerW: 1800,
      initialEnergyWh: 123_456,
    },
  ];

  it('polls readings, executes disconnect/connect as confirmed writes, and reports reachability', async () => {
    let sim = new GatewaySimulator({ meters, aliveTimeMs: 3_000 });
    const { port } = await sim.start();
    stops.push(() => sim.stop());
    const readings: CollectedReading[] = [];
    const events: DeviceEvent[] = [];
    const site = new KnxSite({
      config: {
        gatewayId: 'knx-gw-1',
        gateway: `127.0.0.1:${port}`,
        pollIntervalMs: 60_000,
        datapoints: [
          { groupAddress: '5/1/20', dpt: '13.010', meterSerial: 'M-1', usagePoint: 'POD-1' },
          { groupAddress: '5/1/21', dpt: '14.056', meterSerial: 'M-1', kind: 'instantaneous' },
        ],
        controls: [
          { meterSerial: 'M-1', action: 'disconnect', groupAddress: '5/1/22', value: false },
          { meterSerial: 'M-1', action: 'connect', groupAddress: '5/1/22', value: true },
        ],
      },
      onReading: (r) => readings.push(r),
      onEvent: (e) => events.push(e),
      tunnel: {
        localAddress: '127.0.0.1',
        timers: { heartbeatIntervalMs: 300, heartbeatTimeoutMs: 200, ackTimeoutMs: 200 },
        backoff: { baseDelayMs: 100, maxDelayMs: 300 },
      },
    });
    site.start();
    stops.push(() => site.stop());

    // The first poll happens on connect.
    await waitFor(() => readings.length >= 2, 'the first poll to produce two readings', 10_000);
    const energy = readings.find((r) => r.quantity.source === 'knx' && r.quantity.dpt === '13.010')!;
    expect(energy).toMatchObject({ meterSerial: 'M-1', usagePoint: 'POD-1', kind: 'register', unit: 'Wh' });
    expect(energy.value).toBeGreaterThanOrEqual(123_456);
    expect(readings.find((r) => r.unit === 'W')?.value).toBe(1800);

    const opened = await site.execute('M-1', 'disconnect', 'corr-42');
    expect(opened).toMatchObject({ key: 'meter.relayOpened', correlationId: 'corr-42' });
    expect(sim.bus.meter('M-1')?.relayClosed).toBe(false);
    readings.length = 0;
    await site.pollNow();
    await waitFor(() => readings.find((r) => r.unit === 'W'), 'power after disconnect', 20_000);
    expect(readings.find((r) => r.unit === 'W')?.value).toBe(0);
    await site.execute('M-1', 'connect');
    expect(sim.bus.meter('M-1')?.relayClosed).toBe(true);
    expect(events.filter((e) => e.deviceKind === 'knx-gateway')).toEqual([]);

    // Gateway goes away: raised once. Comes back on the same port: cleared once.
    await sim.stop();
    await waitFor(
      () => events.find((e) => e.key === 'knx.gatewayUnreachable' && e.phase === 'raised'),
      'the unreachable event',
      10_000,
    );
    await expect(site.execute('M-1', 'disconnect')).rejects.toMatchObject({ code: 'MF_KNX_NOT_CONNECTED' });
    sim = new GatewaySimulator({ meters, port });
    await sim.start();
    await waitFor(
      () => events.find((e) => e.key === 'knx.gatewayUnreachable' && e.phase === 'cleared'),
      'the reachable-again event',
      15_000,
    );
    const gatewayEvents = events.filter((e) => e.deviceKind === 'knx-gateway').map((e) => e.phase);
    expect(gatewayEvents).toEqual(['raised', 'cleared']);
  });

  it('polls every pollIntervalMs with GroupValue_Read and each poll yields fresh readings', async () => {
    const sim = new GatewaySimulator({ meters });
    const { port } = await sim.start();
    stops.push(() => sim.stop());
    const readings: CollectedReading[] = [];
    const site = new KnxSite({
      config: {
        gatewayId: 'knx-gw-2',
        gateway: `127.0.0.1:${port}`,
        pollIntervalMs: 1_000,
        datapoints: [{ groupAddress: '5/1/20', dpt: '13.010', meterSerial: 'M-1' }],
      },
      onReading: (r) => readings.push(r),
      onEvent: () => undefined,
      tunnel: { localAddress: '127.0.0.1' },
    });
    site.start();
    stops.push(() => site.stop());
    await waitFor(() => readings.length >= 3, 'three polled readings (connect + 2 scheduled polls)', 10_000);
    expect(site.stats.polls).toBeGreaterThanOrEqual(3);
    // The counter advances between polls (1800 W = 0.5 Wh/s), never backwards.
    const values = readings.map((r) => r.value);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
  });
});
