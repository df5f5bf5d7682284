import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatIndividualAddress,
  parseGroupAddress,
  parseIndividualAddress,
} from '../../adapters/knx/address.js';
import {
  type Cemi,
  groupPayload,
  groupService,
  groupTelegram,
  type LDataFrame,
} from '../../adapters/knx/cemi.js';
import { decodeDpt, encodeDpt } from '../../adapters/knx/dpt.js';
import { RoutingClient } from '../../adapters/knx/routing-client.js';
import { GatewaySimulator } from '../../adapters/knx/simulator/gateway-simulator.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

// Routing over loopback multicast on a free port (not 3671: knxd tests own that one).
describe('routing client against the simulator acting as a KNXnet/IP router', () => {
  let sim: GatewaySimulator;
  let client: RoutingClient;
  const heard: LDataFrame[] = [];

  beforeAll(async () => {
    const port = await freePort();
    sim = new GatewaySimulator({
      meters: [
        {
          serial: 'KNX-R1',
          individualAddress: 0x1106,
          energy: { groupAddress: '6/0/1', dpt: '13.013' },
          relay: { groupAddress: '6/0/2' },
          powerW: 1000,
          initialEnergyWh: 7_000_000,
        },
      ],
      routing: { port, interfaceAddress: '127.0.0.1' },
    });
    await sim.start();
    client = new RoutingClient({
      interfaceAddress: '127.0.0.1',
      port,
      individualAddress: parseIndividualAddress('1.1.99'),
    });
    await client.open();
    client.on({
      telegram: (c: Cemi) => {
        if (c.kind === 'ldata') heard.push(c);
      },
    });
  });
  afterAll(async () => {
    await client?.close();
    await sim?.stop();
  });

  it('a routed GroupValue_Read is answered by the meter with a routed GroupValue_Response', async () => {
    await client.send(
      groupTelegram('GroupValue_Read', parseGroupAddress('6/0/1'), undefined, { source: 0x1163 }),
    );
    await waitFor(
      () => heard.find((t) => groupService(t.tpdu) === 'GroupValue_Response'),
      'routed response',
      20_000,
    );
    const response = heard.find((t) => groupService(t.tpdu) === 'GroupValue_Response')!;
    expect(formatIndividualAddress(response.source)).toBe('1.1.6');
    expect(decodeDpt('13.013', groupPayload(response.tpdu)!)).toBe(7000);
    expect(heard.every((t) => t.source !== 0x1163)).toBe(true); // our own indication is not echoed to us
  });

  it('a routed GroupValue_Write reaches the simulated bus', async () => {
    await client.groupWrite(parseGroupAddress('6/0/2'), encodeDpt('1.001', false));
    await waitFor(() => sim.bus.meter('KNX-R1')?.relayClosed === false, 'the relay to open', 20_000);
  });

  it('after ROUTING_BUSY the client holds its next indication for at least the wait time', async () => {
    let busyAt = 0;
    client.on({ busy: () => (busyAt = Date.now()) });
    await sim.sendRoutingBusy(150);
    await waitFor(() => busyAt > 0, 'the busy frame', 20_000);
    await client.groupWrite(parseGroupAddress('6/0/2'), encodeDpt('1.001', true));
    const sentAt = Date.now();
    expect(sentAt - busyAt).toBeGreaterThanOrEqual(145);
    expect(client.stats.busy).toBe(1);
    await waitFor(() => sim.bus.meter('KNX-R1')?.relayClosed === true, 'the relay to close', 20_000);
  });
});

describe('multicast discovery', () => {
  it('a multicast SEARCH_REQUEST is answered by the simulator acting as router', async () => {
    const { searchGateways } = await import('../../adapters/knx/discovery.js');
    const port = await freePort();
    const sim = new GatewaySimulator({
      routing: { port, interfaceAddress: '127.0.0.1' },
      friendlyName: 'router-sim',
    });
    await sim.start();
    try {
      const found = await searchGateways({
        localAddress: '127.0.0.1',
        multicastPort: port,
        // Returns at the first answer (only the simulator listens on this port); the budget is
        // for a loaded box.
        maxResponses: 1,
        timeoutMs: 15_000,
      });
      expect(found.map((g) => g.deviceInfo?.friendlyName)).toContain('router-sim');
      expect(found[0]?.families.map((f) => f.family)).toContain(5);
    } finally {
      await sim.stop();
    }
  });
});
