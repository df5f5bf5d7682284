import type { Socket } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCollectorMetrics } from '../../adapters/modem/collector/metrics.js';
import { readMeter } from '../../adapters/modem/iec62056/reader.js';
import { fleetImei } from '../../adapters/modem/simulator/fleet.js';
import { SimulatedModem } from '../../adapters/modem/simulator/modem.js';
import { ManualClock } from '../../core/clock.js';
import { waitFor } from '../support/wait.js';
import {
  dial,
  dialIn,
  nextEvent,
  readUntilClose,
  startLoopbackCollector,
  type TestCollector,
  tempDir,
} from './support.js';

/**
 * Bad input at the modem listener and at the bridge ports. One collector and one healthy
 * modem run throughout: after every bad case the healthy modem must still be on its first
 * connection and readable.
 */
describe('modem collector: bad input gets the documented behaviour and disturbs nobody', () => {
  const dir = tempDir();
  let node: TestCollector;
  let modemPort: number;
  let healthy: SimulatedModem;
  let healthyPort: number;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 8, 0, 0));
  const extra: SimulatedModem[] = [];

  const sendRaw = async (bytes: string | Buffer): Promise<Socket> => {
    const s = await dial(modemPort);
    if (bytes.length > 0) s.write(bytes);
    return s;
  };

  const healthyStillFine = async () => {
    expect(healthy.connects).toBe(1);
    expect(node.collector.sessionOf(healthy.imei)).toBeDefined();
    const poller = await dial(healthyPort);
    const readout = await readMeter(poller, { stepTimeoutMs: 3000 });
    poller.destroy();
    expect(readout.registers.find((r) => r.obis === '1.8.0')?.raw).toBe(
      healthy.meter.registersAt(clock.now())['1.8.0']!.value,
    );
  };

  beforeAll(async () => {
    node = await startLoopbackCollector(dir.path, 10, { identTimeoutMs: 400, pollerQueueTimeoutMs: 1500 });
    modemPort = node.collector.modemPort;
    healthy = new SimulatedModem({
      imei: fleetImei(100),
      servers: [{ host: '127.0.0.1', port: modemPort }],
      clock,
      meterSerial: '70000100',
      seed: 100,
    });
    healthyPort = (await dialIn(node.collector, healthy)).port;
  });

  it('exposes what happened as Prometheus metrics', async () => {
    const registry = new Registry();
    const unregister = registerCollectorMetrics(registry, node.collector);
    try {
      const rejected = nextEvent(node.collector, 'modem-rejected');
      (await sendRaw('garbage\r\n')).on('error', () => undefined);
      await rejected;
      const text = await registry.metrics();
      expect(text).toMatch(/meterfabric_modems_online\{node="n1"\} [1-9]/);
      expect(text).toMatch(
        /meterfabric_modem_connections_rejected_total\{node="n1",code="MF_MODEM_IDENT_MALFORMED"\} 1/,
      );
    } finally {
      unregister();
    }
  });

  afterAll(async () => {
    for (const m of extra) await m.stop();
    await healthy.stop();
    await node.stop();
    dir.remove();
  });

  it.each([
    ['garbage', 'MF_MODEM_IDENT_MALFORMED', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['binary garbage', 'MF_MODEM_IDENT_MALFORMED', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00])],
    ['an oversized identification', 'MF_MODEM_IDENT_TOO_LONG', `IMEI=${fleetImei(5)};FW=${'A'.repeat(1000)}`],
    ['an IMEI with a bad check digit', 'MF_MODEM_IMEI_INVALID', '490154203237519\r\n'],
    ['a 14-digit IMEI', 'MF_MODEM_IMEI_INVALID', '49015420323751\r\n'],
    ['silence after connect', 'MF_MODEM_IDENT_TIMEOUT', ''],
  ])('%s is closed with %s and logged as an event', async (_name, code, bytes) => {
    const rejected = nextEvent(node.collector, 'modem-rejected', (e) => e.code === code);
    const socket = await sendRaw(bytes);
    const closed = readUntilClose(socket);
    const event = await rejected;
    expect(event.message.length).toBeGreaterThan(10);
    expect(await closed).toBe('');
    expect((await node.store.list()).map((r) => r.imei)).toEqual([healthy.imei]);
    await healthyStillFine();
  });

  it('a duplicate IMEI replaces the stale session: the old connection is kicked, the new one is bridged', async () => {
    const twin = new SimulatedModem({
      imei: fleetImei(101),
      servers: [{ host: '127.0.0.1', port: modemPort }],
      clock,
      meterSerial: '70000101',
      seed: 101,
    });
    extra.push(twin);
    const { port } = await dialIn(node.collector, twin);
    // The same IMEI dials again from another socket while the first still looks alive.
    const replaced = nextEvent(node.collector, 'modem-replaced', (e) => e.imei === twin.imei);
    const impostor = await sendRaw(`${twin.imei}\r\n`);
    await replaced;
    // The new connection now owns the port: the poller's bytes reach the impostor socket.
    const poller = await dial(port);
    const got = new Promise<string>((resolve) => impostor.once('data', (c: Buffer) => resolve(c.toString())));
    poller.write('/?!\r\n');
    expect(await got).toBe('/?!\r\n');
    poller.destroy();
    impostor.destroy();
    await healthyStillFine();
  });

  it('a poller on an unassigned port gets connection refused (nothing listens there)', async () => {
    const unassigned = node.collector.config.portRange.last;
    await expect(dial(unassigned)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await healthyStillFine();
  });

  it('a poller from an address outside the organization ranges is refused with MF_MODEM_CLIENT_DENIED', async () => {
    await node.store.putOrganization({ id: 'default', name: 'default', allowedClients: ['127.0.0.1/32'] });
    try {
      const rejected = nextEvent(
        node.collector,
        'poller-rejected',
        (e) => e.code === 'MF_MODEM_CLIENT_DENIED',
      );
      const outsider = await dial(healthyPort, '127.0.0.1', '127.0.0.9');
      const text = await readUntilClose(outsider);
      expect(text).toMatch(
        /^MF-REFUSED MF_MODEM_CLIENT_DENIED client 127\.0\.0\.9 is not in the allowed ranges/,
      );
      expect((await rejected).remote).toMatch(/^127\.0\.0\.9:/);
      await healthyStillFine();
    } finally {
      await node.store.putOrganization({ id: 'default', name: 'default', allowedClients: ['127.0.0.0/8'] });
    }
  });

  it('a second poller waits in the queue and is served when the first leaves', async () => {
    // Listening before dialling: the first poller must hold the modem before the second comes.
    const attached = nextEvent(node.collector, 'poller-attached', (e) => e.imei === healthy.imei);
    const first = await dial(healthyPort);
    await attached;
    const second = await dial(healthyPort);
    const secondRead = readMeter(second, { stepTimeoutMs: 3000 });
    // Polled, not slept: on a loaded box the collector may take a while to queue the second.
    await waitFor(
      () => node.collector.sessionOf(healthy.imei)?.queuedPollers === 1,
      'the second poller queued',
      20_000,
    );
    expect(node.collector.sessionOf(healthy.imei)?.queuedPollers).toBe(1);
    first.destroy();
    const readout = await secondRead;
    second.destroy();
    expect(readout.meterSerial).toBe('70000100');
  });

  it('a queued poller is refused with MF_MODEM_BUSY when the queue wait runs out', async () => {
    const attached = nextEvent(node.collector, 'poller-attached', (e) => e.imei === healthy.imei);
    const first = await dial(healthyPort);
    await attached;
    const second = await dial(healthyPort);
    const text = await readUntilClose(second, 20_000);
    expect(text).toMatch(/^MF-REFUSED MF_MODEM_BUSY modem \d{15} stayed busy/);
    first.destroy();
    await healthyStillFine();
  });

  it('a poller on the port of an offline modem is refused with MF_MODEM_OFFLINE', async () => {
    const gone = new SimulatedModem({
      imei: fleetImei(102),
      servers: [{ host: '127.0.0.1', port: modemPort }],
      clock,
      meterSerial: '70000102',
      seed: 102,
    });
    const { port } = await dialIn(node.collector, gone);
    const offline = nextEvent(node.collector, 'modem-offline', (e) => e.imei === gone.imei);
    await gone.stop();
    await offline;
    const poller = await dial(port);
    expect(await readUntilClose(poller)).toMatch(
      /^MF-REFUSED MF_MODEM_OFFLINE modem \d{15} \(port \d+\) is offline/,
    );
    expect((await node.store.get(gone.imei))?.online).toBe(false);
    await healthyStillFine();
  });
});

describe('modem collector: configured policies', () => {
  it('refuses unknown IMEIs when so configured, and a second poller at once under the refuse policy', async () => {
    const dir = tempDir();
    const node = await startLoopbackCollector(dir.path, 5, {
      unknownModems: 'refuse',
      pollerPolicy: 'refuse',
    });
    const modemPort = node.collector.modemPort;
    const clock = new ManualClock(0);
    const known = new SimulatedModem({
      imei: fleetImei(7),
      servers: [{ host: '127.0.0.1', port: modemPort }],
      clock,
      meterSerial: '1',
      seed: 7,
    });
    try {
      await node.store.importModems(
        [{ imei: known.imei, organization: 'default' }],
        node.collector.config.portRange,
        0,
      );
      await node.collector.refreshBridgePorts();
      const rejected = nextEvent(
        node.collector,
        'modem-rejected',
        (e) => e.code === 'MF_MODEM_UNKNOWN_REFUSED',
      );
      const stranger = await dial(modemPort);
      stranger.write(`${fleetImei(8)}\r\n`);
      await rejected;
      expect(await readUntilClose(stranger)).toBe('');
      expect(await node.store.get(fleetImei(8))).toBeUndefined();

      const { port } = await dialIn(node.collector, known);
      const attached = nextEvent(node.collector, 'poller-attached', (e) => e.imei === known.imei);
      const first = await dial(port);
      await attached;
      const second = await dial(port);
      expect(await readUntilClose(second)).toMatch(
        /^MF-REFUSED MF_MODEM_BUSY .*being polled by another client/,
      );
      first.destroy();
    } finally {
      await known.stop();
      await node.stop();
      dir.remove();
    }
  });

  it('closes a modem that stays idle past the idle timeout and records it offline', async () => {
    const dir = tempDir();
    const node = await startLoopbackCollector(dir.path, 3, { idleTimeoutMs: 300 });
    const modemPort = node.collector.modemPort;
    try {
      const online = nextEvent(node.collector, 'modem-online');
      const silent = await dial(modemPort);
      const closed = readUntilClose(silent);
      silent.write(`${fleetImei(9)}\r\n`);
      await online;
      const offline = await nextEvent(
        node.collector,
        'modem-offline',
        (e) => e.imei === fleetImei(9),
        20_000,
      );
      expect(offline.reason).toBe('connection closed');
      expect(await closed).toBe('');
      expect((await node.store.get(fleetImei(9)))?.online).toBe(false);
    } finally {
      await node.stop();
      dir.remove();
    }
  });
});
