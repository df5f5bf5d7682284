import { afterAll, describe, expect, it } from 'vitest';
import { KnxFieldLink } from '../../actors/device/knx-field-link.js';
import { GatewaySimulator } from '../../adapters/knx/simulator/gateway-simulator.js';
import { waitFor } from '../support/wait.js';

// A KNX gateway as a concentrator: the FieldLink its Device actor drives, against the gateway
// simulator over real UDP.
describe('KnxFieldLink (a KNX gateway as a concentrator)', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  const meters = [
    {
      serial: 'KNX-M-1',
      individualAddress: 0x1105,
      energy: { groupAddress: '5/1/20', dpt: '13.010' as const },
      power: { groupAddress: '5/1/21' },
      relay: { groupAddress: '5/1/22' },
      powerW: 1200,
      initialEnergyWh: 50_000,
    },
    {
      serial: 'KNX-M-2',
      individualAddress: 0x1106,
      energy: { groupAddress: '5/2/20', dpt: '13.010' as const },
      powerW: 300,
      initialEnergyWh: 7_000,
    },
  ];

  it('answers register requests with the named meters readings, operates relays by control requests, and refuses when the gateway is gone', async () => {
    const sim = new GatewaySimulator({ meters });
    const { port } = await sim.start();
    let simRunning = true;
    stops.push(async () => {
      if (simRunning) await sim.stop();
    });
    const link = new KnxFieldLink({
      config: {
        gatewayId: 'knx-gw-fl',
        gateway: `127.0.0.1:${port}`,
        pollIntervalMs: 60_000,
        datapoints: [
          { groupAddress: '5/1/20', dpt: '13.010', meterSerial: 'KNX-M-1', usagePoint: 'POD-K1' },
          { groupAddress: '5/1/21', dpt: '14.056', meterSerial: 'KNX-M-1', kind: 'instantaneous' },
          { groupAddress: '5/2/20', dpt: '13.010', meterSerial: 'KNX-M-2', usagePoint: 'POD-K2' },
        ],
        controls: [
          { meterSerial: 'KNX-M-1', action: 'disconnect', groupAddress: '5/1/22', value: false },
          { meterSerial: 'KNX-M-1', action: 'connect', groupAddress: '5/1/22', value: true },
        ],
      },
      pollSettleMs: 500,
      tunnel: {
        localAddress: '127.0.0.1',
        timers: { heartbeatIntervalMs: 300, heartbeatTimeoutMs: 200, ackTimeoutMs: 200 },
        backoff: { baseDelayMs: 100, maxDelayMs: 300 },
      },
    });
    link.start();
    stops.push(() => link.stop());
    await waitFor(
      async () => {
        try {
          await link.execute({ type: 'register', meters: [] });
          return true;
        } catch {
          return false;
        }
      },
      'the gateway tunnel to connect',
      10_000,
    );

    const first = await link.execute({ type: 'register', meters: ['KNX-M-1'] });
    const energy = first.readings.find((r) => r.unit === 'Wh');
    expect(energy).toMatchObject({ meterSerial: 'KNX-M-1', usagePoint: 'POD-K1', kind: 'register' });
    expect(energy!.value).toBeGreaterThanOrEqual(50_000);
    expect(first.readings.find((r) => r.unit === 'W')?.value).toBe(1200);
    expect(first.readings.every((r) => r.meterSerial === 'KNX-M-1')).toBe(true);

    // KNX-M-2's answers to the same poll were kept for the request that names it.
    const second = await link.execute({ type: 'register', meters: ['KNX-M-2'] });
    const m2 = second.readings.filter((r) => r.meterSerial === 'KNX-M-2');
    expect(m2.length).toBeGreaterThan(0);
    expect(m2.every((r) => r.value >= 7_000)).toBe(true);

    const opened = await link.execute({
      type: 'control',
      action: 'disconnect',
      meters: ['KNX-M-1'],
      operationId: 'op-7',
    });
    expect(opened.controlResults).toEqual([{ meterSerial: 'KNX-M-1', action: 'disconnect', ok: true }]);
    // The operation id is a detail; the CIM CorrelationID is the Device actor's to add.
    expect(opened.events).toContainEqual(
      expect.objectContaining({
        key: 'meter.relayOpened',
        deviceId: 'KNX-M-1',
        details: expect.objectContaining({ OPERATION: 'op-7' }),
      }),
    );
    expect(opened.events.every((e) => e.correlationId === undefined)).toBe(true);
    expect(sim.bus.meter('KNX-M-1')?.relayClosed).toBe(false);

    // No control mapping for power reduction on this meter: a failed result, not an exception.
    const refused = await link.execute({
      type: 'control',
      action: 'powerReduction',
      meters: ['KNX-M-1'],
      operationId: 'op-8',
    });
    expect(refused.controlResults[0]).toMatchObject({ meterSerial: 'KNX-M-1', ok: false });
    expect(sim.bus.meter('KNX-M-1')?.relayClosed).toBe(false);

    await sim.stop();
    simRunning = false;
    await waitFor(
      async () => {
        try {
          await link.execute({ type: 'register', meters: ['KNX-M-1'] });
          return false;
        } catch (err) {
          return String(err).includes('is not reachable');
        }
      },
      'requests to be refused once the gateway is gone',
      15_000,
    );
  });
});
