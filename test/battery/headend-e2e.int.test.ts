import { afterEach, describe, expect, it } from 'vitest';
import { LocalHeadend } from '../../actors/host/local-headend.js';
import type { RoutedRecord } from '../../actors/tlog/router.js';
import { BatteryFieldLink } from '../../adapters/battery/monitor/field-link.js';
import { BatteryMonitor } from '../../adapters/battery/monitor/monitor.js';
import { BatterySiteSimulator } from '../../adapters/battery/sim/simulator.js';
import { connectTcp } from '../../adapters/battery/transport/tcp.js';
import { canetWireFormat } from '../../adapters/battery/transport/wire-formats.js';
import { systemClock } from '../../core/clock.js';
import { waitFor } from '../support/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('battery site through the head-end (LocalHeadend, real TCP to the simulator)', () => {
  it('a simulated over-temperature reaches the head-end event output as raised, then cleared, exactly once each', async () => {
    const sim = await BatterySiteSimulator.start({
      cycleMs: 50,
      timeScale: 20,
      scenario: 'over-temperature',
      packCount: 2,
    });
    cleanups.push(() => sim.stop());
    const transport = await connectTcp(sim.canAddress.host, sim.canAddress.port, canetWireFormat);
    cleanups.push(() => transport.close());
    const monitor = new BatteryMonitor({
      deviceId: 'BAT-SITE-7',
      transport,
      linkTimeoutMs: 1_000,
      heartbeatIntervalMs: 100,
    });
    const link = new BatteryFieldLink(monitor);
    monitor.start();
    cleanups.push(() => monitor.stop());

    const routed: RoutedRecord[] = [];
    const headend = new LocalHeadend({
      clock: systemClock,
      fieldLink: (id) => (id === 'BAT-DC-7' ? link : undefined),
      sink: (batch) => {
        routed.push(...batch);
      },
    });
    for (const command of [
      {
        type: 'upsertConcentrator',
        id: 'BAT-DC-7',
        concentratorType: 'BATTERY-GW',
        serial: 'GW0007',
        substation: 'SUB-0',
        transformer: 'TR-0',
        timeZone: 'UTC',
        communicationType: 'gprs',
        address: `tcp://${sim.canAddress.host}:${sim.canAddress.port}`,
      },
      {
        type: 'upsertMeter',
        serial: 'BAT-SITE-7',
        manufacturer: 'SOFAR',
        model: 'GTX2500',
        firmwareVersion: '1.0',
      },
      { type: 'installMeter', serial: 'BAT-SITE-7', concentratorId: 'BAT-DC-7' },
      { type: 'commissionMeter', serial: 'BAT-SITE-7' },
    ] as Parameters<LocalHeadend['applyRegistry']>[0][]) {
      headend.applyRegistry(command);
    }

    let jobNumber = 0;
    const read = async () => {
      const now = Date.now();
      const outcome = await headend.submitJob({
        id: `battery-read-${++jobNumber}`,
        kind: 'meterReading',
        priority: 'normal',
        concentratorId: 'BAT-DC-7',
        meterSerials: ['BAT-SITE-7'],
        params: { kind: 'meterReading' },
        submittedAtMs: now,
        deadlineMs: now + 30_000,
        maxAttempts: 1,
      });
      await headend.settle();
      return outcome;
    };
    const overTemperature = () =>
      routed
        .map((r) => r.record)
        .filter((rec) => rec.type === 'event' && rec.event.key === 'battery.overTemperature')
        .map((rec) => (rec.type === 'event' ? rec.event.phase : ''));

    // The head-end reads the site repeatedly while the scenario plays out (and after it).
    await waitFor(
      async () => {
        const outcome = await read();
        expect(outcome.status).toBe('succeeded');
        return overTemperature().includes('cleared');
      },
      'over-temperature cleared in the head-end output',
      20_000,
      200,
    );
    for (let i = 0; i < 3; i++) await read();
    expect(overTemperature()).toEqual(['raised', 'cleared']);
    const readings = routed.filter((r) => r.record.type === 'reading');
    expect(readings.length).toBeGreaterThan(0);
  });
});
