import { afterEach, describe, expect, it } from 'vitest';
import { BatteryRs485Monitor } from '../../adapters/battery/monitor/rs485-monitor.js';
import type { Rs485Frame } from '../../adapters/battery/rs485/frame.js';
import type { ScenarioName } from '../../adapters/battery/sim/scenarios.js';
import { BatterySiteSimulator } from '../../adapters/battery/sim/simulator.js';
import { Rs485Client } from '../../adapters/battery/transport/rs485-client.js';
import { connectTcp, type StreamTransport } from '../../adapters/battery/transport/tcp.js';
import { rs485WireFormat } from '../../adapters/battery/transport/wire-formats.js';
import type { CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import { waitFor } from '../support/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function polledSite(scenario: ScenarioName, packCount = 1) {
  const sim = await BatterySiteSimulator.start({
    cycleMs: 50,
    timeScale: 20,
    rs485: true,
    scenario,
    packCount,
  });
  cleanups.push(() => sim.stop());
  const transport: StreamTransport<Rs485Frame> = await connectTcp(
    sim.rs485Address!.host,
    sim.rs485Address!.port,
    rs485WireFormat,
  );
  cleanups.push(() => transport.close());
  const client = new Rs485Client(transport, { replyTimeoutMs: 300 });
  cleanups.push(() => client.close());
  const events: DeviceEvent[] = [];
  const readings: CollectedReading[] = [];
  const monitor = new BatteryRs485Monitor({
    deviceId: 'site-rs',
    client,
    pollIntervalMs: 100,
    onEvent: (e) => events.push(e),
    onReadings: (r) => readings.push(...r),
  });
  monitor.start();
  cleanups.push(() => monitor.stop());
  return { sim, events, readings, monitor };
}

describe('battery site polled over RS485 (simulator serial server → Rs485Client → BatteryRs485Monitor)', () => {
  it('over-temperature is raised once and cleared once, with the same event key as on CAN', async () => {
    const { events } = await polledSite('over-temperature');
    const overTemp = () => events.filter((e) => e.key === 'battery.overTemperature');
    await waitFor(() => overTemp().some((e) => e.phase === 'cleared'), 'cleared', 15_000);
    await new Promise((r) => setTimeout(r, 500)); // more polls of a normal pack: nothing new
    expect(overTemp().map((e) => e.phase)).toEqual(['raised', 'cleared']);
    expect(overTemp()[0]!.details).toMatchObject({ kind: 'protection', direction: 'charge' });
  });

  it('polls give per-pack readings (voltage, current, SOC, temperature, energy) for a 2-pack stack', async () => {
    const { readings } = await polledSite('normal-day', 2);
    await waitFor(() => new Set(readings.map((r) => r.meterSerial)).size === 2, 'two packs', 10_000);
    const pack1 = readings
      .filter((r) => r.meterSerial === 'site-rs/pack1')
      .map((r) => (r.quantity.source === 'battery' ? r.quantity.quantity : ''));
    expect(pack1).toEqual(
      expect.arrayContaining([
        'voltage',
        'current',
        'stateOfCharge',
        'temperature',
        'chargedEnergy',
        'dischargedEnergy',
        'chargeCurrentLimit',
      ]),
    );
  });

  it('a pack that stops answering raises battery.linkLost after three failed polls, cleared when it answers again', async () => {
    const { sim, events, monitor } = await polledSite('idle');
    await waitFor(() => monitor.stats.polls >= 2, 'first polls', 20_000);
    sim.setSilent(true);
    await waitFor(() => events.some((e) => e.key === 'battery.linkLost'), 'link lost', 10_000);
    expect(monitor.stats.failedPolls).toBeGreaterThanOrEqual(3);
    sim.setSilent(false);
    await waitFor(
      () => events.some((e) => e.key === 'battery.linkLost' && e.phase === 'cleared'),
      'link back',
      10_000,
    );
    expect(events.filter((e) => e.key === 'battery.linkLost').map((e) => e.phase)).toEqual([
      'raised',
      'cleared',
    ]);
  });
});
