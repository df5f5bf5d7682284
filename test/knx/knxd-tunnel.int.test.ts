import { createSocket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  formatGroupAddress,
  formatIndividualAddress,
  parseGroupAddress,
} from '../../adapters/knx/address.js';
import { fromHex } from '../../adapters/knx/bytes.js';
import {
  type Cemi,
  decodeCemi,
  groupPayload,
  groupService,
  type LDataFrame,
} from '../../adapters/knx/cemi.js';
import { describeGateway, searchGateways } from '../../adapters/knx/discovery.js';
import { decodeDpt, encodeDpt } from '../../adapters/knx/dpt.js';
import { encodeFrame } from '../../adapters/knx/frame.js';
import { TunnelClient, type TunnelStatus } from '../../adapters/knx/tunnel-client.js';
import { waitFor } from '../support/wait.js';
import { type KnxdHandle, knxtool, startKnxd } from './support/knxd.js';

// Interop against Debian's knxd (reference §4), started here on loopback and killed by PID.
const gateway = { host: '127.0.0.1', port: 3671 };

type Received = { cemi: LDataFrame; at: number };

function collect(client: TunnelClient): Received[] {
  const received: Received[] = [];
  client.on({
    telegram: (cemi: Cemi) => {
      if (cemi.kind === 'ldata' && cemi.messageCode === 0x29) received.push({ cemi, at: Date.now() });
    },
  });
  return received;
}

function to(received: Received[], ga: string): Received[] {
  const raw = parseGroupAddress(ga);
  return received.filter((r) => r.cemi.destination === raw);
}

describe('knxd as tunnelling server', () => {
  let knxd: KnxdHandle;
  const clients: TunnelClient[] = [];
  const newClient = (opts: Partial<ConstructorParameters<typeof TunnelClient>[0]> = {}): TunnelClient => {
    const c = new TunnelClient({
      gateway,
      localAddress: '127.0.0.1',
      timers: { heartbeatIntervalMs: 1_000 },
      backoff: { baseDelayMs: 100, maxDelayMs: 500 },
      ...opts,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    knxd = await startKnxd({ clientAddresses: 8, heartbeatTimeoutS: 4 });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
  });
  afterAll(async () => {
    await knxd?.stop();
  });

  it('unicast search and description find knxd (IA 1.1.250, Core + Tunnelling)', async () => {
    const [found] = await searchGateways({
      targets: [gateway],
      localAddress: '127.0.0.1',
      timeoutMs: 15_000,
    });
    expect(found?.deviceInfo?.friendlyName).toBe('knxd');
    expect(formatIndividualAddress(found?.deviceInfo?.individualAddress ?? 0)).toBe('1.1.250');
    expect(found?.families.map((f) => f.family)).toEqual(expect.arrayContaining([2, 4]));
    const description = await describeGateway(gateway);
    expect(description.deviceInfo?.friendlyName).toBe('knxd');
  });

  it('connects, receives knxtool groupswrite/groupwrite telegrams and decodes their values', async () => {
    const client = newClient();
    const received = collect(client);
    await client.connect();
    expect(formatIndividualAddress(client.individualAddress)).toMatch(/^1\.1\.(25[1-8])$/);
    await knxtool(knxd, 'groupswrite', '1/2/3', '1');
    await knxtool(knxd, 'groupwrite', '0/0/10', '0c', '1a');
    await knxtool(knxd, 'groupwrite', '5/1/20', '00', '00', '30', '39');
    await knxtool(knxd, 'groupwrite', '5/1/21', '45', '9c', '40', '00');
    await waitFor(() => received.length >= 4, '4 telegrams from knxd', 10_000);
    const value = (ga: string, dpt: string): unknown => {
      const [r] = to(received, ga);
      expect(r && groupService(r.cemi.tpdu)).toBe('GroupValue_Write');
      return decodeDpt(dpt, groupPayload(r!.cemi.tpdu)!);
    };
    expect(value('1/2/3', '1.001')).toBe(true);
    expect(value('0/0/10', '9.001')).toBe(21);
    expect(value('5/1/20', '13.013')).toBe(12345);
    expect(value('5/1/21', '14.056')).toBe(5000);
    expect(received).toHaveLength(4);
  });

  it('sends its own GroupValue_Write, sees the L_Data.con, and another tunnel gets it from our IA', async () => {
    const writer = newClient();
    const listener = newClient();
    const heard = collect(listener);
    await writer.connect();
    await listener.connect();
    let con: LDataFrame | undefined;
    writer.on({
      telegram: (c) => {
        if (c.kind === 'ldata' && c.messageCode === 0x2e) con = c;
      },
    });
    await writer.groupWrite(parseGroupAddress('1/2/4'), encodeDpt('13.010', 4242));
    expect(con?.confirmError).toBe(false);
    expect(formatGroupAddress(con!.destination)).toBe('1/2/4');
    await waitFor(() => to(heard, '1/2/4').length > 0, 'the write on the second tunnel', 20_000);
    const [r] = to(heard, '1/2/4');
    expect(r!.cemi.source).toBe(writer.individualAddress);
    expect(decodeDpt('13.010', groupPayload(r!.cemi.tpdu)!)).toBe(4242);
  });

  it('connects with route-back (NAT) HPAIs and receives telegrams', async () => {
    const client = newClient({ routeBack: true });
    const received = collect(client);
    await client.connect();
    await knxtool(knxd, 'groupswrite', '1/2/7', '1');
    await waitFor(() => to(received, '1/2/7').length === 1, 'a telegram over the route-back tunnel', 20_000);
  });

  it("CONNECTIONSTATE heartbeats keep the tunnel past knxd's 4 s heartbeat timeout", async () => {
    const client = newClient({ timers: { heartbeatIntervalMs: 1_000 } });
    const statuses: TunnelStatus[] = [];
    client.on({ status: (s) => statuses.push(s) });
    await client.connect();
    const channel = client.channelId;
    // Longer than knxd's heartbeat-timeout (4 s): without heartbeats knxd would drop us (next test).
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(statuses).toEqual(['connecting', 'connected']);
    expect(client.channelId).toBe(channel);
    expect(client.stats.reconnects).toBe(0);
  });

  it("survives knxd's server-initiated disconnect (heartbeat timeout) by reconnecting", async () => {
    // No heartbeats from us: knxd drops the tunnel after its 4 s heartbeat-timeout.
    const client = newClient({ timers: { heartbeatIntervalMs: 60_000 } });
    const statuses: TunnelStatus[] = [];
    client.on({ status: (s) => statuses.push(s) });
    const received = collect(client);
    await client.connect();
    await waitFor(() => statuses.includes('reconnecting'), 'knxd to drop the silent tunnel', 15_000);
    await waitFor(() => client.status === 'connected', 'the client to reconnect', 10_000);
    expect(statuses.slice(0, 3)).toEqual(['connecting', 'connected', 'reconnecting']);
    expect(client.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(client.channelId).not.toBe(0);
    await knxtool(knxd, 'groupswrite', '1/2/5', '1');
    await waitFor(() => to(received, '1/2/5').length === 1, 'a telegram after the reconnect', 20_000);
  });

  it('malformed datagrams, a wrong channel and wrong sequence numbers are dropped and the tunnel stays up', async () => {
    const client = newClient();
    const received = collect(client);
    const dropped: string[] = [];
    client.on({ dropped: (reason) => dropped.push(reason) });
    await client.connect();
    // Junk goes straight to the client's socket, as a stray or hostile sender would send it.
    const port = (client as unknown as { socket: { address(): { port: number } } }).socket.address().port;
    const junk = createSocket('udp4');
    const send = (bytes: Uint8Array): Promise<void> =>
      new Promise((resolve) => junk.send(bytes, port, '127.0.0.1', () => resolve()));
    const ch = client.channelId;
    const ind = '29 00 BC D0 11 FC 0A 03 01 00 81';
    await send(fromHex('06 10 04 20 00 15 04')); // truncated
    await send(fromHex('06 20 04 21 00 0A 04 01 00 00')); // wrong version
    await send(fromHex('06 10 04 99 00 0A 04 01 00 00')); // unknown service
    await send(fromHex('06 10 04 21 00 0A 05 01 00 00')); // wrong structure length
    await send(
      encodeFrame({
        service: 'TUNNELLING_REQUEST',
        channelId: (ch + 1) & 0xff,
        sequence: 0,
        cemi: decodeCemiHex(ind),
      }),
    );
    await send(
      encodeFrame({ service: 'TUNNELLING_REQUEST', channelId: ch, sequence: 77, cemi: decodeCemiHex(ind) }),
    );
    await waitFor(() => dropped.length >= 6, 'six drops', 20_000);
    expect(received).toHaveLength(0);
    expect(client.status).toBe('connected');
    expect(client.stats.malformed).toBe(4);
    junk.close();
    await knxtool(knxd, 'groupswrite', '1/2/6', '1');
    await waitFor(() => to(received, '1/2/6').length === 1, 'a good telegram after the junk', 20_000);
    expect(received).toHaveLength(1);
  });
});

describe('knxd with a single tunnel slot', () => {
  let knxd: KnxdHandle;
  const clients: TunnelClient[] = [];
  beforeAll(async () => {
    knxd = await startKnxd({ clientAddresses: 1 });
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await knxd?.stop();
  });

  it('a second tunnel gets a clear MF_KNX_NO_MORE_CONNECTIONS error', async () => {
    const first = new TunnelClient({
      gateway,
      localAddress: '127.0.0.1',
      timers: { heartbeatIntervalMs: 2_000 },
    });
    const second = new TunnelClient({ gateway, localAddress: '127.0.0.1' });
    clients.push(first, second);
    await first.connect();
    const error = await second.connect().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: 'MF_KNX_NO_MORE_CONNECTIONS' });
    expect((error as Error).message).toMatch(/no free tunnel/);
    expect(first.status).toBe('connected');
  });
});

function decodeCemiHex(hex: string): Cemi {
  return decodeCemi(fromHex(hex));
}
