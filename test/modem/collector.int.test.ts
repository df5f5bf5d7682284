import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readMeter } from '../../adapters/modem/iec62056/reader.js';
import { fleetImei } from '../../adapters/modem/simulator/fleet.js';
import { SimulatedModem } from '../../adapters/modem/simulator/modem.js';
import { ManualClock } from '../../core/clock.js';
import { consecutiveFreePorts } from '../support/ports.js';
import {
  dial,
  freePortRange,
  nextEvent,
  startCollector,
  startLoopbackCollector,
  type TestCollector,
  tempDir,
} from './support.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Collects everything `socket` delivers until `bytes` have arrived. */
function receive(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const on = (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= bytes) {
        socket.off('data', on);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', on);
  });
}

describe('modem collector: dial in, bridge, read the meter', () => {
  let dir: ReturnType<typeof tempDir>;
  let node: TestCollector | null = null;
  const modems: SimulatedModem[] = [];

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    for (const m of modems.splice(0)) await m.stop();
    await node?.stop();
    node = null;
    dir.remove();
  });

  it('a simulated modem dials in, gets a port, the meter reads exactly through it, and after a restart the same IMEI gets the same port', async () => {
    const portRange = await freePortRange(20);
    // Fixed across the restart below (the modems redial it), so picked here: below the OS's
    // port-0 range, where no other process is handed it meanwhile.
    const modemPort = await consecutiveFreePorts(1);
    const config = { nodeId: 'n1', modemListen: { host: '127.0.0.1', port: modemPort }, portRange };
    node = await startCollector(dir.path, config);
    const meterClock = new ManualClock(Date.UTC(2026, 10, 23, 8, 0, 0));
    // A first modem takes the lowest port, so the one under test is not trivially on `first`.
    const other = new SimulatedModem({
      imei: fleetImei(1),
      servers: [{ host: '127.0.0.1', port: modemPort }],
      clock: meterClock,
      meterSerial: '90000001',
      seed: 1,
    });
    modems.push(other);
    let online = nextEvent(node.collector, 'modem-online', (e) => e.imei === other.imei);
    other.start();
    await online;

    const modem = new SimulatedModem({
      imei: fleetImei(2),
      servers: [{ host: '127.0.0.1', port: modemPort }],
      clock: meterClock,
      meterSerial: '90000002',
      seed: 2,
      iccid: '8970101234567890123',
      signalCsq: 17,
      firmware: 'ATM3-2.1',
    });
    modems.push(modem);
    online = nextEvent(node.collector, 'modem-online', (e) => e.imei === modem.imei);
    modem.start();
    const first = await online;
    expect(first.registered).toBe(true);
    expect(first.port).toBe(portRange.first + 1);

    meterClock.advance(5 * 3_600_000 + 1234_000);
    const poller = await dial(first.port);
    const readout = await readMeter(poller, { stepTimeoutMs: 3000 });
    poller.destroy();
    const expected = modem.meter.registersAt(meterClock.now());
    expect(readout.meterSerial).toBe('90000002');
    for (const r of readout.registers) {
      expect(`${r.raw}*${r.unit}`, r.obis).toBe(`${expected[r.obis]!.value}*${expected[r.obis]!.unit}`);
    }
    expect(readout.registers.map((r) => r.obis).sort()).toEqual(
      ['1.8.0', '1.8.1', '1.8.2', '1.8.3', '1.8.4', '1.7.0', '32.7.0', '31.7.0'].sort(),
    );
    const record = await node.store.get(modem.imei);
    expect(record).toMatchObject({
      imei: modem.imei,
      port: first.port,
      online: true,
      iccid: '8970101234567890123',
      signalCsq: 17,
      firmware: 'ATM3-2.1',
      gpi: [false, false],
      organization: 'default',
    });

    // Node restart: the collector and its store go away; the modems redial on their own.
    await node.stop();
    node = await startCollector(dir.path, config);
    const again = await nextEvent(node.collector, 'modem-online', (e) => e.imei === modem.imei);
    expect(again).toMatchObject({ port: first.port, registered: false });
    const poller2 = await dial(again.port);
    const readout2 = await readMeter(poller2, { stepTimeoutMs: 3000 });
    poller2.destroy();
    expect(readout2.meterSerial).toBe('90000002');
    const after = await node.store.get(modem.imei);
    expect(after?.bytesFromModem).toBeGreaterThan(0);
    // The first connection carried exactly one sign-on (5 bytes) and one option select (6 bytes):
    // the poller's bytes, not the modem's identification, and persisted when the node stopped.
    expect(after?.bytesToModem).toBe(11);
  });

  it('bridges bytes unchanged both ways, and a poller that stops reading holds the modem back (backpressure)', async () => {
    node = await startLoopbackCollector(dir.path, 3);
    const modemPort = node.collector.modemPort;
    const online = nextEvent(node.collector, 'modem-online');
    const modem = await dial(modemPort);
    modem.write(`${fleetImei(3)}\r\n`);
    const { port } = await online;
    const poller = await dial(port);
    await nextEvent(node.collector, 'poller-attached').catch(() => undefined);

    const up = randomBytes(2 * 1024 * 1024);
    const gotUp = receive(modem, up.length);
    poller.write(up);
    expect(sha((await gotUp).subarray(0, up.length))).toBe(sha(up));
    const down = randomBytes(2 * 1024 * 1024);
    const gotDown = receive(poller, down.length);
    modem.write(down);
    expect(sha((await gotDown).subarray(0, down.length))).toBe(sha(down));

    // The poller stops reading: the modem can write only until the kernel and stream buffers
    // on the way are full, not the 256 MiB it tries to send.
    poller.pause();
    const chunk = randomBytes(64 * 1024);
    const limit = 256 * 1024 * 1024;
    let written = 0;
    const hash = createHash('sha256');
    while (written < limit) {
      hash.update(chunk);
      written += chunk.length;
      if (!modem.write(chunk)) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => modem.once('drain', () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 1000)),
        ]);
        if (!drained) break;
      }
    }
    expect(written).toBeLessThan(64 * 1024 * 1024);
    const rest = receive(poller, written);
    poller.resume();
    const all = await rest;
    expect(all.length).toBe(written);
    expect(sha(all)).toBe(hash.digest('hex'));
    poller.destroy();
    modem.destroy();
  });

  it('a modem that drops and redials at once, again and again, ends up recorded online with its port', async () => {
    node = await startLoopbackCollector(dir.path, 3);
    const modemPort = node.collector.modemPort;
    // A registry whose "offline" writes are slow (as an etcd round trip can be): they must still
    // not land after the "online" write of the connection that replaced the dropped one.
    const update = node.store.update.bind(node.store);
    node.store.update = async (imei, patch) => {
      if (patch.online === false) await new Promise((r) => setTimeout(r, 150));
      return update(imei, patch);
    };
    const modem = new SimulatedModem({
      imei: fleetImei(4),
      servers: [{ host: '127.0.0.1', port: modemPort }],
      clock: new ManualClock(0),
      meterSerial: '4',
      seed: 4,
      redialMs: 1,
      maxRedialMs: 1,
    });
    modems.push(modem);
    let online = nextEvent(node.collector, 'modem-online', (e) => e.imei === modem.imei);
    modem.start();
    const { port } = await online;
    for (let i = 0; i < 15; i++) {
      online = nextEvent(node.collector, 'modem-online', (e) => e.imei === modem.imei);
      modem.drop();
      await online;
    }
    // Let every offline bookkeeping of the dropped connections finish.
    await new Promise((r) => setTimeout(r, 600));
    expect(node.collector.sessionOf(modem.imei)).toBeDefined();
    expect(await node.store.get(modem.imei)).toMatchObject({ online: true, port });
    const poller = await dial(port);
    expect((await readMeter(poller, { stepTimeoutMs: 3000 })).meterSerial).toBe('4');
    poller.destroy();
  });
});
