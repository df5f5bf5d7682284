import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeCanet } from '../../adapters/battery/can/canet.js';
import type { CanFrame } from '../../adapters/battery/can/frame.js';
import { parseCandump } from '../../adapters/battery/can/frame.js';
import { run as batteryCli } from '../../adapters/battery/cli.js';
import { BatteryReturnCodeError } from '../../adapters/battery/errors.js';
import { BatteryMonitor } from '../../adapters/battery/monitor/monitor.js';
import { commands } from '../../adapters/battery/rs485/commands.js';
import type { Rs485Frame } from '../../adapters/battery/rs485/frame.js';
import { BatterySiteSimulator } from '../../adapters/battery/sim/simulator.js';
import { ReconnectingTransport } from '../../adapters/battery/transport/reconnecting.js';
import { Rs485Client } from '../../adapters/battery/transport/rs485-client.js';
import { connectTcp, type StreamTransport } from '../../adapters/battery/transport/tcp.js';
import { canetWireFormat, rs485WireFormat } from '../../adapters/battery/transport/wire-formats.js';
import type { CollectedReading, DeviceEvent } from '../../adapters/field-data.js';
import { consecutiveFreePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

// Everything started here is stopped in afterEach, even when an assertion fails.
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startSite(options: Parameters<typeof BatterySiteSimulator.start>[0]) {
  const sim = await BatterySiteSimulator.start({ cycleMs: 50, timeScale: 20, ...options });
  cleanups.push(() => sim.stop());
  const transport: StreamTransport<CanFrame> = await connectTcp(
    sim.canAddress.host,
    sim.canAddress.port,
    canetWireFormat,
  );
  cleanups.push(() => transport.close());
  return { sim, transport };
}

function startMonitor(
  transport: StreamTransport<CanFrame>,
  extra: Partial<ConstructorParameters<typeof BatteryMonitor>[0]> = {},
) {
  const events: DeviceEvent[] = [];
  const readings: CollectedReading[] = [];
  const monitor = new BatteryMonitor({
    deviceId: 'site-7',
    transport,
    readingIntervalMs: 200,
    linkTimeoutMs: 1_000, // generous: this 2-core box is shared, and a stall must not look like a lost link
    heartbeatIntervalMs: 100,
    onEvent: (e) => events.push(e),
    onReadings: (r) => readings.push(...r),
    ...extra,
  });
  monitor.start();
  cleanups.push(() => monitor.stop());
  return { monitor, events, readings };
}

describe('battery site end to end over TCP (simulator → CANET → monitor)', () => {
  it('a simulated over-temperature is raised once and cleared once as battery.overTemperature', async () => {
    const { sim, transport } = await startSite({ scenario: 'over-temperature', packCount: 2 });
    const { events } = startMonitor(transport);
    const overTemp = () => events.filter((e) => e.key === 'battery.overTemperature');
    await waitFor(() => overTemp().some((e) => e.phase === 'cleared'), 'over-temperature cleared', 15_000);
    // Keep listening while the (now normal) frames keep coming: no repeats, no second raise.
    const framesBefore = sim.framesSent;
    await waitFor(() => sim.framesSent > framesBefore + 60, 'more frames after clearing', 10_000);
    expect(overTemp().map((e) => e.phase)).toEqual(['raised', 'cleared']);
    expect(overTemp()[0]).toMatchObject({
      deviceId: 'site-7',
      deviceKind: 'battery',
      details: { kind: 'protection' },
    });
    expect(overTemp()[1]!.timestampMs).toBeGreaterThan(overTemp()[0]!.timestampMs);
    expect(events.filter((e) => e.key === 'battery.linkLost')).toEqual([]);
  });

  it('readings carry every telemetry quantity with units, on schedule', async () => {
    const { transport } = await startSite({
      scenario: 'normal-day',
      packCount: 4,
      initialSocPct: 55,
      timeScale: 600,
    });
    const { readings, monitor } = startMonitor(transport);
    await waitFor(
      () =>
        readings.some(
          (r) => r.quantity.source === 'battery' && r.quantity.quantity === 'dischargedEnergy' && r.value > 0,
        ),
      'discharged energy',
      10_000,
    );
    const quantities = new Set(
      readings.map((r) => (r.quantity.source === 'battery' ? r.quantity.quantity : '')),
    );
    for (const q of [
      'voltage',
      'current',
      'stateOfCharge',
      'stateOfHealth',
      'temperature',
      'chargedEnergy',
      'dischargedEnergy',
    ]) {
      expect(quantities.has(q as never), q).toBe(true);
    }
    const soc = readings.find(
      (r) => r.quantity.source === 'battery' && r.quantity.quantity === 'stateOfCharge',
    )!;
    expect(soc).toMatchObject({ meterSerial: 'site-7', unit: '%', kind: 'instantaneous' });
    expect(
      readings.find((r) => r.quantity.source === 'battery' && r.quantity.quantity === 'dischargedEnergy'),
    ).toMatchObject({ unit: 'Wh', kind: 'register' });
    expect(monitor.variant()).toBe('pylon-v1.2');
  });

  it('the pack falling silent raises battery.linkLost once, and its return clears it once', async () => {
    const { transport } = await startSite({ scenario: 'heartbeat-loss', timeScale: 10 });
    const { events } = startMonitor(transport);
    await waitFor(
      () => events.some((e) => e.key === 'battery.linkLost' && e.phase === 'cleared'),
      'link restored',
      15_000,
    );
    expect(events.filter((e) => e.key === 'battery.linkLost').map((e) => e.phase)).toEqual([
      'raised',
      'cleared',
    ]);
  });

  it('a pack that needs the inverter heartbeat keeps talking while the monitor sends 0x305, and stops without it', async () => {
    const { sim, transport } = await startSite({ scenario: 'idle', requireHeartbeatMs: 1_500 });
    const { events, monitor } = startMonitor(transport, { heartbeatIntervalMs: 100 });
    await waitFor(() => sim.heartbeatsSeen >= 5, 'heartbeats at the simulator', 20_000);
    expect(sim.isSilent).toBe(false);
    monitor.stop();
    const quiet = startMonitor(transport, { heartbeatIntervalMs: 0 });
    await waitFor(() => sim.isSilent, 'pack silent without heartbeat', 20_000);
    await waitFor(
      () => quiet.events.some((e) => e.key === 'battery.linkLost' && e.phase === 'raised'),
      'link lost',
      20_000,
    );
    expect(events.filter((e) => e.key === 'battery.linkLost')).toEqual([]);
  });

  it('an over-current surge raises battery.overCurrent (discharge) and a deep discharge raises the forced-charge request', async () => {
    const { transport } = await startSite({ scenario: 'over-current' });
    const { events } = startMonitor(transport);
    await waitFor(() => events.some((e) => e.key === 'battery.overCurrent'), 'over-current', 10_000);
    expect(events.find((e) => e.key === 'battery.overCurrent')).toMatchObject({
      phase: 'raised',
      details: { direction: 'discharge' },
    });

    const deep = await startSite({ scenario: 'deep-discharge', timeScale: 2000 });
    const deepMonitor = startMonitor(deep.transport);
    await waitFor(
      () => deepMonitor.events.some((e) => e.key === 'battery.underVoltage'),
      'under-voltage protection',
      15_000,
    );
    const keys = deepMonitor.events.filter((e) => e.phase === 'raised').map((e) => e.key);
    expect(keys.indexOf('battery.forcedChargeRequest')).toBeGreaterThanOrEqual(0);
    expect(keys.indexOf('battery.forcedChargeRequest')).toBeLessThan(keys.indexOf('battery.underVoltage'));
  });

  it('Sofar-extended frames are detected and give one reading series per pack', async () => {
    const { transport } = await startSite({ scenario: 'idle', packCount: 3, variant: 'sofar-extended' });
    const { readings, monitor } = startMonitor(transport);
    await waitFor(() => new Set(readings.map((r) => r.meterSerial)).size === 3, 'three packs', 20_000);
    expect([...new Set(readings.map((r) => r.meterSerial))].sort()).toEqual([
      'site-7/pack1',
      'site-7/pack2',
      'site-7/pack3',
    ]);
    expect(monitor.variant()).toBe('sofar-extended');
  });
});

describe('CAN link resilience over TCP', () => {
  it('garbage on the gateway stream is reported as a typed error and the frames after it are decoded', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.write(
        Buffer.concat([
          Buffer.from([0xff, 0xfe, 0x3c, 0x00]),
          encodeCanet(parseCandump('356#7A13F2FE6B01')),
          encodeCanet(parseCandump('355#58005E00')),
        ]),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => r());
        }),
    );
    const port = (server.address() as { port: number }).port;
    const transport = await connectTcp('127.0.0.1', port, canetWireFormat);
    cleanups.push(() => transport.close());
    const errors: string[] = [];
    const { readings, monitor } = startMonitor(transport, { onDecodeError: (e) => errors.push(e.code) });
    await waitFor(() => monitor.stats.framesDecoded === 2, 'two good frames', 20_000);
    expect(errors).toEqual(['MF_BATTERY_CAN_FRAME']);
    expect(
      readings.find((r) => r.quantity.source === 'battery' && r.quantity.quantity === 'stateOfCharge')?.value,
    ).toBe(88);
    expect(
      readings.find((r) => r.quantity.source === 'battery' && r.quantity.quantity === 'voltage')?.value,
    ).toBe(49.86);
  });

  it('a gateway restart: battery.linkLost raised once while it is down, cleared once after reconnecting', async () => {
    // The second gateway takes the first one's port: picked below the OS's port-0 range, where
    // no other process is handed it while it is free.
    const port = await consecutiveFreePorts(1);
    const first = await BatterySiteSimulator.start({ cycleMs: 50, canPort: port, scenario: 'idle' });
    let second: BatterySiteSimulator | undefined;
    cleanups.push(async () => {
      await first.stop();
      await second?.stop();
    });
    const transport = new ReconnectingTransport(() => connectTcp('127.0.0.1', port, canetWireFormat), {
      initialDelayMs: 50,
      maxDelayMs: 200,
    });
    cleanups.push(() => transport.close());
    const events: DeviceEvent[] = [];
    const monitor = new BatteryMonitor({
      deviceId: 'site-r',
      transport,
      linkTimeoutMs: 1_000, // generous: this 2-core box is shared, and a stall must not look like a lost link
      heartbeatIntervalMs: 100,
      onEvent: (e) => events.push(e),
    });
    monitor.start();
    cleanups.push(() => monitor.stop());
    await waitFor(() => monitor.stats.framesDecoded > 5, 'frames from the first gateway', 20_000);
    await first.stop();
    await waitFor(() => events.some((e) => e.key === 'battery.linkLost'), 'link lost', 20_000);
    second = await BatterySiteSimulator.start({ cycleMs: 50, canPort: port, scenario: 'idle' });
    await waitFor(
      () => events.some((e) => e.key === 'battery.linkLost' && e.phase === 'cleared'),
      'link back',
      10_000,
    );
    expect(events.map((e) => `${e.key}:${e.phase}`)).toEqual([
      'battery.linkLost:raised',
      'battery.linkLost:cleared',
    ]);
    expect(transport.connects).toBe(2);
    expect(monitor.stats.transportErrors).toBeGreaterThanOrEqual(1); // the drop, reported as link trouble
    expect(monitor.stats.decodeErrors).toBe(0);
  });
});

describe('RS485 over a TCP serial server (simulator)', () => {
  async function startRs485() {
    const sim = await BatterySiteSimulator.start({
      cycleMs: 50,
      packCount: 2,
      rs485: true,
      initialSocPct: 70,
    });
    cleanups.push(() => sim.stop());
    const address = sim.rs485Address!;
    const transport: StreamTransport<Rs485Frame> = await connectTcp(
      address.host,
      address.port,
      rs485WireFormat,
    );
    cleanups.push(() => transport.close());
    const client = new Rs485Client(transport, { replyTimeoutMs: 2_000 });
    cleanups.push(() => client.close());
    return { sim, client, address };
  }

  it('answers 0x4F, 0x51, 0x42, 0x44, 0x47, 0x92 and 0x93 with checksummed frames that decode', async () => {
    const { client } = await startRs485();
    expect((await client.request(commands.protocolVersion, 2)).value).toEqual({ protocolVersion: '2.0' });
    expect((await client.request(commands.manufacturer, 2)).value).toMatchObject({
      deviceName: 'GTX2500',
      manufacturerName: 'SOFAR AMASS',
    });
    const analog = await client.request(commands.analogValues, 2, { allPacks: true });
    if (analog.command !== 0x42) throw new Error('command');
    expect(analog.value.packs).toHaveLength(2);
    expect(analog.value.packs[0]!.remainingCapacityAh).toBeCloseTo(35, 1);
    expect(analog.value.packs[0]!.cellVoltagesV).toHaveLength(16);
    const alarms = await client.request(commands.alarmInfo, 3);
    expect(alarms.value).toMatchObject({ address: 3 });
    expect((await client.request(commands.systemParameters, 2)).value).toMatchObject({
      chargeHighTemperatureC: 55,
      dischargeLowTemperatureC: -20,
    });
    expect((await client.request(commands.chargeManagement, 2)).value).toMatchObject({
      chargeEnable: true,
      dischargeEnable: true,
      chargeCurrentLimitA: 50,
    });
    expect((await client.request(commands.serialNumber, 3)).value).toEqual({
      address: 3,
      serialNumber: 'GTX2500SIM000002',
    });
  });

  it('an address with no pack gets RTN 0x90 as a typed error, and the next request still works', async () => {
    const { client } = await startRs485();
    await expect(client.request(commands.analogValues, 9)).rejects.toBeInstanceOf(BatteryReturnCodeError);
    await expect(client.request(commands.analogValues, 9)).rejects.toMatchObject({
      code: 'MF_BATTERY_RTN_ADR',
    });
    const ok = await client.request(commands.chargeManagement, 2);
    expect(ok.command).toBe(0x92);
  });

  it('line noise and a corrupted request before a good one: the server resynchronises and answers the good one', async () => {
    const { address } = await startRs485();
    const socket = connect(address.port, address.host);
    cleanups.push(() => void socket.destroy());
    const received: string[] = [];
    socket.on('data', (d) => received.push(d.toString('latin1')));
    await new Promise((r) => socket.once('connect', r));
    socket.write('\u0000garbage~20024642E00202FD34\r~2002464F0000FD98\r');
    await waitFor(() => received.join('').includes('\r'), 'a reply', 20_000);
    await new Promise((r) => setTimeout(r, 200));
    // Exactly one reply: to the good 0x4F request (RTN 00, LENID 0); the corrupted one got none.
    expect(received.join('')).toMatch(/^~200246000000FDB2\r$/);
  });
});

describe('meterfabric battery monitor <address>', () => {
  it('prints live telemetry lines with units and protection events from a simulated site', async () => {
    const sim = await BatterySiteSimulator.start({
      cycleMs: 50,
      timeScale: 20,
      scenario: 'over-temperature',
    });
    cleanups.push(() => sim.stop());
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    cleanups.push(() => spy.mockRestore());
    const code = await batteryCli([
      'monitor',
      `${sim.canAddress.host}:${sim.canAddress.port}`,
      '--device-id',
      'cli-site',
      '--duration-ms',
      '1500',
      '--reading-interval-ms',
      '500',
    ]);
    spy.mockRestore();
    expect(code).toBe(0);
    expect(out).toMatch(/ cli-site stateOfCharge 60 %\n/);
    expect(out).toMatch(/ cli-site voltage [\d.]+ V\n/);
    expect(out).toMatch(/ cli-site temperature [\d.]+ degC\n/);
    expect(out).toMatch(/EVENT battery.overTemperature raised \{"kind":"protection"\}/);
  });
});
