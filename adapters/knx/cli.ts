import { parseArgs } from 'node:util';
import { createLogger } from '../../core/logger.js';
import { parseGroupAddress } from './address.js';
import { fromHex } from './bytes.js';
import { decodeCemi } from './cemi.js';
import { describeCemi, describeFrame } from './describe.js';
import { parseEndpoint, searchGateways } from './discovery.js';
import { dptInfo } from './dpt.js';
import { KnxError } from './errors.js';
import { decodeFrame } from './frame.js';
import { GatewaySimulator } from './simulator/gateway-simulator.js';
import { TunnelClient } from './tunnel-client.js';

/**
 * `meterfabric knx ...`: decode <hex> [--dpt T] [--cemi] | discover [--target host[:port]]... |
 * monitor <gateway> [--dpt GA=DPT]... [--count N] | simulate [--port P]. Output is JSON
 * (one object per line for the streaming commands).
 */

type Output = { write(text: string): unknown };

const usage = `usage: meterfabric knx <command>
  decode <hex> [--dpt 13.010] [--cemi]       decode a KNXnet/IP frame (or a bare cEMI with --cemi) as JSON
  discover [--target host[:port]]... [--interface addr] [--timeout-ms 3000]
                                              search gateways (multicast 224.0.23.12:3671, or unicast targets)
  monitor <host[:port]> [--dpt GA=DPT]... [--count N] [--local addr] [--route-back]
                                              open a tunnel and print telegrams as they arrive
  simulate [--host 127.0.0.1] [--port 3671]   run the gateway simulator with two demo meters
`;

export async function run(argv: string[], out: Output = process.stdout): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'decode':
      return decode(rest, out);
    case 'discover':
      return discover(rest, out);
    case 'monitor':
      return monitor(rest, out);
    case 'simulate':
      return simulate(rest, out);
    default:
      out.write(usage);
      return command === undefined || command === '--help' ? 0 : 2;
  }
}

function decode(argv: string[], out: Output): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { dpt: { type: 'string' }, cemi: { type: 'boolean', default: false } },
  });
  if (positionals.length === 0)
    throw new KnxError('MF_KNX_CONFIG', 'decode needs a hex string, e.g. 06100421000a042a1700');
  const bytes = fromHex(positionals.join(''));
  if (values.dpt) dptInfo(values.dpt); // a bad --dpt is an error before anything is printed
  const json = values.cemi
    ? describeCemi(decodeCemi(bytes), values.dpt)
    : describeFrame(decodeFrame(bytes), values.dpt);
  out.write(`${JSON.stringify(json, null, 2)}\n`);
  return 0;
}

async function discover(argv: string[], out: Output): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', multiple: true },
      interface: { type: 'string' },
      'timeout-ms': { type: 'string', default: '3000' },
    },
  });
  const found = await searchGateways({
    targets: (values.target ?? []).map(parseEndpoint),
    localAddress: values.interface,
    timeoutMs: Number(values['timeout-ms']),
  });
  for (const g of found) {
    out.write(
      `${JSON.stringify({
        from: `${g.from.host}:${g.from.port}`,
        control: `${g.control.ip}:${g.control.port}`,
        name: g.deviceInfo?.friendlyName,
        ...describeFrame({ service: 'SEARCH_RESPONSE', control: g.control, dibs: g.dibs }),
      })}\n`,
    );
  }
  return found.length > 0 ? 0 : 1;
}

async function monitor(argv: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dpt: { type: 'string', multiple: true },
      count: { type: 'string' },
      local: { type: 'string' },
      'route-back': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1)
    throw new KnxError('MF_KNX_CONFIG', 'monitor needs one gateway: host or host:port');
  const dpts = new Map<number, string>();
  for (const spec of values.dpt ?? []) {
    const [ga, dpt] = spec.split('=');
    if (!ga || !dpt) throw new KnxError('MF_KNX_CONFIG', `--dpt "${spec}" must look like 5/1/20=13.010`);
    dptInfo(dpt);
    dpts.set(parseGroupAddress(ga), dpt);
  }
  const limit = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
  const client = new TunnelClient({
    gateway: parseEndpoint(positionals[0]!),
    localAddress: values.local,
    routeBack: values['route-back'],
    logger: createLogger({ component: 'knx-monitor' }, process.env.MF_LOG_LEVEL ?? 'warn'),
  });
  let seen = 0;
  let onSigint: (() => void) | undefined;
  const finished = new Promise<void>((resolve) => {
    client.on({
      telegram: (cemi) => {
        if (seen >= limit) return; // telegrams already in flight when the count is reached
        const dpt = cemi.kind === 'ldata' ? dpts.get(cemi.destination) : undefined;
        let line: Record<string, unknown>;
        try {
          line = { at: new Date().toISOString(), ...describeCemi(cemi, dpt) };
        } catch (err) {
          line = { at: new Date().toISOString(), ...describeCemi(cemi), valueError: (err as Error).message };
        }
        out.write(`${JSON.stringify(line)}\n`);
        if (++seen >= limit) resolve();
      },
    });
    onSigint = () => resolve();
    process.once('SIGINT', onSigint);
  });
  try {
    await client.connect();
    await finished;
  } finally {
    if (onSigint) process.off('SIGINT', onSigint);
    await client.close();
  }
  return 0;
}

async function simulate(argv: string[], out: Output): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '3671' } },
  });
  const sim = new GatewaySimulator({
    host: values.host,
    port: Number(values.port),
    cyclicIntervalMs: 10_000,
    meters: [
      {
        serial: 'KNX-DEMO-1',
        individualAddress: 0x1105,
        energy: { groupAddress: '5/1/20', dpt: '13.013' },
        power: { groupAddress: '5/1/21' },
        relay: { groupAddress: '5/1/22' },
        powerW: 2300,
        initialEnergyWh: 12_345_000,
      },
      {
        serial: 'KNX-DEMO-2',
        individualAddress: 0x1106,
        energy: { groupAddress: '5/2/20', dpt: '13.010' },
        power: { groupAddress: '5/2/21' },
        powerW: 800,
        initialEnergyWh: 4_200_000,
      },
    ],
  });
  const address = await sim.start();
  out.write(`${JSON.stringify({ simulator: `${address.host}:${address.port}` })}\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await sim.stop();
  return 0;
}
