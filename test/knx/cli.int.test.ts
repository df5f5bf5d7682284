import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGroupAddress } from '../../adapters/knx/address.js';
import { run } from '../../adapters/knx/cli.js';
import { encodeDpt } from '../../adapters/knx/dpt.js';
import { GatewaySimulator } from '../../adapters/knx/simulator/gateway-simulator.js';
import { TunnelClient } from '../../adapters/knx/tunnel-client.js';

describe('meterfabric knx discover / monitor against the simulator', () => {
  let sim: GatewaySimulator;
  beforeAll(async () => {
    sim = new GatewaySimulator({});
    await sim.start();
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('discover --target finds the simulator', async () => {
    let text = '';
    const code = await run(
      ['discover', '--target', `127.0.0.1:${sim.address.port}`, '--timeout-ms', '2000'],
      {
        write: (t: string) => (text += t),
      },
    );
    expect(code).toBe(0);
    expect(JSON.parse(text.trim())).toMatchObject({ name: 'meterfabric KNX sim' });
  });

  it('monitor prints telegrams as they arrive, with DPT values', async () => {
    const lines: string[] = [];
    const monitoring = run(
      [
        'monitor',
        `127.0.0.1:${sim.address.port}`,
        '--local',
        '127.0.0.1',
        '--dpt',
        '5/1/21=14.056',
        '--count',
        '1',
      ],
      { write: (t: string) => lines.push(t) },
    );
    const writer = new TunnelClient({ gateway: sim.address, localAddress: '127.0.0.1' });
    await writer.connect();
    // The monitor's tunnel may open after ours; write until it has printed one line.
    for (let i = 0; i < 50 && lines.length === 0; i++) {
      await writer.groupWrite(parseGroupAddress('5/1/21'), encodeDpt('14.056', 5000));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await monitoring).toBe(0);
    expect(lines).toHaveLength(1);
    await writer.close();
    expect(JSON.parse(lines[0]!)).toMatchObject({
      messageCode: 'L_Data.ind',
      destination: '5/1/21',
      value: { dpt: '14.056', value: 5000, unit: 'W' },
    });
  });
});
