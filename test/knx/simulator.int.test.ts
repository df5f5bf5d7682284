import { createSocket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatIndividualAddress, parseGroupAddress } from '../../adapters/knx/address.js';
import { fromHex } from '../../adapters/knx/bytes.js';
import {
  type Cemi,
  groupPayload,
  groupService,
  groupTelegram,
  type LDataFrame,
} from '../../adapters/knx/cemi.js';
import { searchGateways } from '../../adapters/knx/discovery.js';
import { decodeDpt, encodeDpt } from '../../adapters/knx/dpt.js';
import { encodeFrame } from '../../adapters/knx/frame.js';
import { GatewaySimulator } from '../../adapters/knx/simulator/gateway-simulator.js';
import { TunnelClient, type TunnelStatus } from '../../adapters/knx/tunnel-client.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { type KnxdHandle, knxtool, startKnxd } from './support/knxd.js';

const meters = [
  {
    serial: 'KNX-0001',
    individualAddress: 0x1105,
    energy: { groupAddress: '5/1/20', dpt: '13.010' as const },
    power: { groupAddress: '5/1/21' },
    relay: { groupAddress: '5/1/22' },
    powerW: 2000,
    initialEnergyWh: 5000,
  },
];

function indications(client: TunnelClient): LDataFrame[] {
  const out: LDataFrame[] = [];
  client.on({
    telegram: (c: Cemi) => {
      if (c.kind === 'ldata' && c.messageCode === 0x29) out.push(c);
    },
  });
  return out;
}

describe('gateway simulator with our tunnel client', () => {
  let sim: GatewaySimulator;
  const clients: TunnelClient[] = [];
  const client = (opts: Partial<ConstructorParameters<typeof TunnelClient>[0]> = {}): TunnelClient => {
    const c = new TunnelClient({ gateway: sim.address, localAddress: '127.0.0.1', ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = new GatewaySimulator({ meters, tunnels: 2, aliveTimeMs: 1_500 });
    await sim.start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('answers a unicast search with its device info', async () => {
    const [found] = await searchGateways({
      targets: [sim.address],
      localAddress: '127.0.0.1',
      timeoutMs: 15_000, // a unicast search returns at the first answer
    });
    expect(found?.deviceInfo?.friendlyName).toBe('meterfabric KNX sim');
    expect(found?.control.port).toBe(sim.address.port);
  });

  it('a GroupValue_Read of the energy counter gets a GroupValue_Response from the meter', async () => {
    const c = client({ timers: { heartbeatIntervalMs: 500 } });
    const heard = indications(c);
    await c.connect();
    await c.groupRead(parseGroupAddress('5/1/20'));
    await waitFor(
      () => heard.find((t) => groupService(t.tpdu) === 'GroupValue_Response'),
      'a response',
      20_000,
    );
    const response = heard.find((t) => groupService(t.tpdu) === 'GroupValue_Response')!;
    expect(formatIndividualAddress(response.source)).toBe('1.1.5');
    expect(decodeDpt('13.010', groupPayload(response.tpdu)!)).toBeGreaterThanOrEqual(5000);
  });

  it('a GroupValue_Write to the relay is confirmed and opens it; the other tunnel sees the write', async () => {
    const writer = client({ timers: { heartbeatIntervalMs: 500 } });
    const other = client({ timers: { heartbeatIntervalMs: 500 } });
    const heard = indications(other);
    await writer.connect();
    await other.connect();
    await writer.groupWrite(parseGroupAddress('5/1/22'), encodeDpt('1.001', false));
    expect(sim.bus.meter('KNX-0001')?.relayClosed).toBe(false);
    await waitFor(
      () => heard.some((t) => t.destination === parseGroupAddress('5/1/22')),
      'the write on tunnel 2',
      20_000,
    );
    expect(heard.find((t) => t.destination === parseGroupAddress('5/1/22'))?.source).toBe(
      writer.individualAddress,
    );
    await writer.groupWrite(parseGroupAddress('5/1/22'), encodeDpt('1.001', true));
    expect(sim.bus.meter('KNX-0001')?.relayClosed).toBe(true);
  });

  it('works with route-back (NAT) HPAIs: the simulator answers the datagram source', async () => {
    const c = client({ routeBack: true, timers: { heartbeatIntervalMs: 500 } });
    const heard = indications(c);
    await c.connect();
    await c.groupRead(parseGroupAddress('5/1/21'));
    await waitFor(
      () => heard.find((t) => groupService(t.tpdu) === 'GroupValue_Response'),
      'a response',
      20_000,
    );
  });

  it('refuses a third tunnel with MF_KNX_NO_MORE_CONNECTIONS', async () => {
    const a = client({ timers: { heartbeatIntervalMs: 500 } });
    const b = client({ timers: { heartbeatIntervalMs: 500 } });
    await a.connect();
    await b.connect();
    await expect(client().connect()).rejects.toMatchObject({ code: 'MF_KNX_NO_MORE_CONNECTIONS' });
  });

  it('drops a client that stops heartbeating; the client reconnects', async () => {
    const c = client({
      timers: { heartbeatIntervalMs: 60_000 },
      backoff: { baseDelayMs: 50, maxDelayMs: 200 },
    });
    const statuses: TunnelStatus[] = [];
    c.on({ status: (s) => statuses.push(s) });
    await c.connect();
    await waitFor(() => statuses.includes('reconnecting'), 'the simulator to drop the silent client', 20_000);
    await waitFor(() => c.status === 'connected', 'reconnect', 20_000);
  });

  it('a repeated sequence number from the gateway is ACKed again but delivered once; a skipped one is dropped', async () => {
    const c = client({ timers: { heartbeatIntervalMs: 500 } });
    const heard = indications(c);
    const dropped: string[] = [];
    c.on({ dropped: (reason) => dropped.push(reason) });
    await c.connect();
    const telegram = groupTelegram(
      'GroupValue_Write',
      parseGroupAddress('7/0/1'),
      { shortData: 1 },
      { messageCode: 0x29 },
    );
    sim.inject(telegram);
    await waitFor(() => heard.length === 1, 'the first telegram', 20_000);
    // Replay seq 0 (a gateway that missed our ACK) and send seq 9 (out of order) to the client's socket.
    const port = (c as unknown as { socket: { address(): { port: number } } }).socket.address().port;
    const junk = createSocket('udp4');
    for (const sequence of [0, 9]) {
      const bytes = encodeFrame({
        service: 'TUNNELLING_REQUEST',
        channelId: c.channelId,
        sequence,
        cemi: telegram,
      });
      await new Promise<void>((resolve) => junk.send(bytes, port, '127.0.0.1', () => resolve()));
    }
    await waitFor(() => dropped.length >= 2, 'both to be handled', 20_000);
    junk.close();
    expect(dropped[0]).toMatch(/duplicate .* ACKed again/);
    expect(dropped[1]).toMatch(/seq 9, expected 1: discarded without ACK/);
    expect(heard).toHaveLength(1);
    sim.inject(telegram);
    await waitFor(() => heard.length === 2, 'the next in-sequence telegram', 20_000);
    expect(c.status).toBe('connected');
  });

  it('the client drops datagrams from hosts other than the gateway', async () => {
    const c = client({ timers: { heartbeatIntervalMs: 500 } });
    const heard = indications(c);
    const dropped: string[] = [];
    c.on({ dropped: (reason) => dropped.push(reason) });
    await c.connect();
    const port = (c as unknown as { socket: { address(): { port: number } } }).socket.address().port;
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.2', () => resolve()));
    const telegram = groupTelegram(
      'GroupValue_Write',
      parseGroupAddress('7/0/2'),
      { shortData: 1 },
      { messageCode: 0x29 },
    );
    const bytes = encodeFrame({
      service: 'TUNNELLING_REQUEST',
      channelId: c.channelId,
      sequence: 0,
      cemi: telegram,
    });
    await new Promise<void>((resolve) => stranger.send(bytes, port, '127.0.0.1', () => resolve()));
    await waitFor(() => dropped.length > 0, 'the drop', 20_000);
    stranger.close();
    expect(dropped[0]).toMatch(/127\.0\.0\.2.*not the gateway/);
    expect(heard).toHaveLength(0);
    sim.inject(telegram);
    await waitFor(() => heard.length === 1, 'the genuine telegram with seq 0', 20_000);
  });

  it('garbage sent to the simulator is dropped and it keeps serving tunnels', async () => {
    const junk = createSocket('udp4');
    const send = (hex: string): Promise<void> =>
      new Promise((resolve) => junk.send(fromHex(hex), sim.address.port, '127.0.0.1', () => resolve()));
    const before = sim.stats.malformed;
    await send('06 10 02 05 00 1A 08 01'); // truncated CONNECT_REQUEST
    await send('06 10 04 20 00 15 04 63 00 00 11 00 BC E0 00 00 0A 03 01 00 81'); // unknown channel
    await waitFor(() => sim.stats.malformed > before && sim.stats.dropped > 0, 'both drops', 20_000);
    junk.close();
    const c = client({ timers: { heartbeatIntervalMs: 500 } });
    await c.connect();
    expect(c.status).toBe('connected');
  });
});

describe('tunnel client without a gateway', () => {
  it('a first connect that gets no answer fails with MF_KNX_TIMEOUT, and requests then fail fast', async () => {
    const port = await freePort();
    const c = new TunnelClient({
      gateway: { host: '127.0.0.1', port },
      localAddress: '127.0.0.1',
      timers: { connectTimeoutMs: 300 },
    });
    try {
      await expect(c.connect()).rejects.toMatchObject({ code: 'MF_KNX_TIMEOUT' });
      await expect(c.groupRead(parseGroupAddress('1/2/3'))).rejects.toMatchObject({
        code: 'MF_KNX_NOT_CONNECTED',
      });
    } finally {
      await c.close();
    }
  });
});

describe('knxd as a tunnelling client of the gateway simulator', () => {
  let sim: GatewaySimulator;
  let knxd: KnxdHandle | undefined;
  beforeAll(async () => {
    sim = new GatewaySimulator({ meters, tunnels: 2 });
    await sim.start();
  });
  afterAll(async () => {
    await knxd?.stop();
    await sim.stop();
  });

  it('delivers a knxtool groupwrite to the simulator', async () => {
    knxd = await startKnxd({
      noServer: true,
      extraConnections: [
        {
          name: 'C.ipt',
          lines: ['driver = ipt', 'ip-address = 127.0.0.1', `dest-port = ${sim.address.port}`],
        },
      ],
    });
    await waitFor(() => sim.connectionCount === 1, 'knxd to open a tunnel to the simulator', 15_000);
    await knxtool(knxd, 'groupwrite', '5/1/30', '00', '00', '30', '39');
    await knxtool(knxd, 'groupswrite', '5/1/22', '0');
    await waitFor(() => sim.bus.writes.length >= 2, 'two writes on the simulated bus', 10_000);
    const energy = sim.bus.writes.find((w) => w.destination === parseGroupAddress('5/1/30'));
    expect(energy && decodeDpt('13.013', energy.payload)).toBe(12345);
    expect(sim.bus.meter('KNX-0001')?.relayClosed).toBe(false);
  });
});
