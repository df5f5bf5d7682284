import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatIndividualAddress,
  parseGroupAddress,
  parseIndividualAddress,
} from '../../adapters/knx/address.js';
import { type Cemi, groupPayload, type LDataFrame } from '../../adapters/knx/cemi.js';
import { KNX_MULTICAST_ADDRESS, KNX_PORT } from '../../adapters/knx/constants.js';
import { decodeDpt, encodeDpt } from '../../adapters/knx/dpt.js';
import { RoutingClient } from '../../adapters/knx/routing-client.js';
import { localAddressFor } from '../../adapters/knx/udp.js';
import { waitFor } from '../support/wait.js';
import { type KnxdHandle, knxtool, startKnxd } from './support/knxd.js';

// Routing interop with knxd as a KNXnet/IP router on 224.0.23.12:3671. knxd joins the group on
// the default-route interface (reference §4, pitfall 3), so our client uses the same one.
describe('knxd as KNXnet/IP router', () => {
  let knxd: KnxdHandle;
  let client: RoutingClient;
  const heard: LDataFrame[] = [];

  beforeAll(async () => {
    knxd = await startKnxd({ routing: true });
    const interfaceAddress = await localAddressFor(KNX_MULTICAST_ADDRESS, KNX_PORT);
    client = new RoutingClient({ interfaceAddress, individualAddress: parseIndividualAddress('1.1.153') });
    await client.open();
    client.on({
      telegram: (c: Cemi) => {
        if (c.kind === 'ldata') heard.push(c);
      },
    });
  });
  afterAll(async () => {
    await client?.close();
    await knxd?.stop();
  });

  it('receives a knxtool write that knxd routes as ROUTING_INDICATION', async () => {
    await knxtool(knxd, 'groupwrite', '5/1/20', '00', '00', '30', '39');
    await waitFor(
      () => heard.find((t) => t.destination === parseGroupAddress('5/1/20')),
      'the routed telegram',
      20_000,
    );
    const t = heard.find((x) => x.destination === parseGroupAddress('5/1/20'))!;
    expect(decodeDpt('13.013', groupPayload(t.tpdu)!)).toBe(12345);
  });

  it("our ROUTING_INDICATION reaches knxd's bus (seen by knxtool vbusmonitor1)", async () => {
    const monitor = spawn('knxtool', ['vbusmonitor1', `local:${knxd.socketPath}`]);
    let output = '';
    monitor.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    try {
      // The monitor attaches asynchronously: send until it has seen our telegram.
      await waitFor(
        async () => {
          await client.groupWrite(parseGroupAddress('1/2/5'), encodeDpt('1.001', true));
          return output.includes('to 1/2/5');
        },
        'vbusmonitor1 to show our routed write',
        10_000,
        300,
      );
    } finally {
      monitor.kill('SIGTERM');
    }
    expect(output).toContain(`from ${formatIndividualAddress(parseIndividualAddress('1.1.153'))} to 1/2/5`);
    expect(output).toMatch(/A_GroupValue_Write/);
  });
});
