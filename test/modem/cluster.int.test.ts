import { connect } from 'node:net';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModemCollector } from '../../adapters/modem/collector/collector.js';
import { EtcdSessionDirectory } from '../../adapters/modem/collector/etcd-directory.js';
import { encodeForwardHeader } from '../../adapters/modem/collector/forward-protocol.js';
import { readMeter } from '../../adapters/modem/iec62056/reader.js';
import { EtcdModemStore } from '../../adapters/modem/registry/etcd-store.js';
import { fleetImei } from '../../adapters/modem/simulator/fleet.js';
import { SimulatedModem } from '../../adapters/modem/simulator/modem.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { startTestEtcd, type TestEtcd } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import { dial, dialIn, freePortRange, nextEvent, readUntilClose } from './support.js';

const secret = 'test-forward-secret-0123456789';

type Node = { collector: ModemCollector; client: Etcd3; directory: EtcdSessionDirectory; modemPort: number };

async function startNode(
  etcd: TestEtcd,
  nodeId: string,
  bridgeHost: string,
  portRange: { first: number; last: number },
) {
  const client = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  const directory = new EtcdSessionDirectory(client, 'c1', 2, silentLogger);
  const collector = new ModemCollector({
    config: {
      nodeId,
      // Port 0: the OS picks (a port picked in advance may be taken before the collector binds it).
      modemListen: { host: '127.0.0.1', port: 0 },
      bridgeHost,
      portRange,
      forwardListen: { host: '127.0.0.1', port: 0 },
      forwardSecret: secret,
      bridgeRefreshMs: 200,
    },
    store: new EtcdModemStore(client, 'c1'),
    directory,
  });
  await collector.start();
  return { collector, client, directory, modemPort: collector.modemPort } satisfies Node;
}

async function stopNode(node: Node): Promise<void> {
  await node.collector.stop();
  await node.directory.close();
  node.client.close();
}

describe('modem collector on two nodes sharing one etcd', () => {
  let etcd: TestEtcd;
  let n1: Node;
  let n2: Node;
  let modem: SimulatedModem;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));

  beforeAll(async () => {
    etcd = await startTestEtcd();
    const range = await freePortRange(10, '127.0.0.2');
    n1 = await startNode(etcd, 'n1', '127.0.0.2', range);
    n2 = await startNode(etcd, 'n2', '127.0.0.3', range);
    modem = new SimulatedModem({
      imei: fleetImei(500),
      // The organization's main server is n1, its backup n2.
      servers: [
        { host: '127.0.0.1', port: n1.modemPort },
        { host: '127.0.0.1', port: n2.modemPort },
      ],
      clock,
      meterSerial: '50000500',
      seed: 500,
      redialMs: 100,
    });
  });

  afterAll(async () => {
    await modem?.stop();
    for (const n of [n1, n2]) if (n) await stopNode(n).catch(() => undefined);
    await etcd?.cleanup();
  });

  it('a poller on the node without the modem is forwarded to the node that holds it', async () => {
    const { port } = await dialIn(n1.collector, modem);
    // n2 opens the port once it sees the registration in etcd.
    await waitFor(
      async () => {
        const s = await dial(port, '127.0.0.3').catch(() => null);
        s?.destroy();
        return s !== null;
      },
      'bridge port on n2',
      20_000,
    );
    const attached = nextEvent(n1.collector, 'poller-attached', (e) => e.imei === modem.imei && e.forwarded);
    const poller = await dial(port, '127.0.0.3');
    const readout = await readMeter(poller, { stepTimeoutMs: 3000 });
    poller.destroy();
    expect((await attached).remote).toMatch(/^fwd:127\.0\.0\.1:\d+$/);
    const expected = modem.meter.registersAt(clock.now());
    expect(readout.registers.find((r) => r.obis === '1.8.0')?.raw).toBe(expected['1.8.0']!.value);
    expect(readout.meterSerial).toBe('50000500');
  });

  it('refuses a forwarded poll whose signature does not match', async () => {
    const [host, port] = n1.collector.forwardAddress!.split(':') as [string, string];
    const s = connect({ host, port: Number(port) });
    const closed = readUntilClose(s);
    s.write(encodeForwardHeader('some-other-secret-abcdefghij', modem.imei, '127.0.0.1:1', Date.now()));
    expect(await closed).toMatch(
      /^ERR MF_MODEM_FORWARD_DENIED forwarded poll refused: bad forward signature/,
    );
  });

  it('when the main node goes away the modem dials the backup and keeps its port', async () => {
    const before = (await n2.collector.store.get(modem.imei))!.port;
    const onBackup = nextEvent(n2.collector, 'modem-online', (e) => e.imei === modem.imei, 15_000);
    await stopNode(n1);
    const { port } = await onBackup;
    expect(port).toBe(before);
    const poller = await dial(port, '127.0.0.3');
    const readout = await readMeter(poller, { stepTimeoutMs: 3000 });
    poller.destroy();
    expect(readout.meterSerial).toBe('50000500');
    expect(await n2.directory.lookup(modem.imei)).toMatchObject({ nodeId: 'n2' });
  });

  it("a crashed node's session entries vanish when its lease expires", async () => {
    const client = new Etcd3({ hosts: `http://${etcd.endpoint}` });
    const crashed = new EtcdSessionDirectory(client, 'c1', 1, silentLogger);
    try {
      const holder = { nodeId: 'n9', forwardAddress: '127.0.0.1:1', sessionId: 's1' };
      await crashed.announce(fleetImei(501), holder);
      expect(await n2.directory.lookup(fleetImei(501))).toEqual(holder);
      // Withdrawing an older session of the same modem must not erase the current entry.
      await n2.directory.withdraw(fleetImei(501), { ...holder, sessionId: 's0' });
      expect(await n2.directory.lookup(fleetImei(501))).toEqual(holder);
      crashed.abandon();
      await waitFor(
        async () => (await n2.directory.lookup(fleetImei(501))) === undefined,
        'lease expiry',
        10_000,
        200,
      );
    } finally {
      client.close();
    }
  });
});
