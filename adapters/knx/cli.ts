import { exitCodes, listenPortRange, parseCommandLine, readNumberFlag } from '../../core/command-line.js';
import { isMeterfabricError, UsageError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { parseGroupAddress } from './address.js';
import { fromHex } from './bytes.js';
import { decodeCemi } from './cemi.js';
import { describeCemi, describeFrame } from './describe.js';
import { parseEndpoint, searchGateways } from './discovery.js';
import { dptInfo } from './dpt.js';
import { decodeFrame } from './frame.js';
import { GatewaySimulator } from './simulator/gateway-simulator.js';
import { TunnelClient } from './tunnel-client.js';

/**
 * `meterfabric knx ...`: decode <hex> [--dpt T] [--cemi] | discover [--target host[:port]]... |
 * monitor <gateway> [--dpt GA=DPT]... [--count N] | simulate [--port P]. Output is JSON
 * (one object per line for the streaming commands). Exit 2 (a `UsageError`): an unknown
 * subcommand or flag, a missing argument, a --dpt, --target or gateway that cannot be read, a
 * --timeout-ms, --count or --port out of its range (`readNumberFlag`, before any socket);
 * exit 1: a frame that does not decode, no gateway found.
 */

/** --timeout-ms of discover: past 10 min a typo (seconds given as ms × 1000) is likelier than a need. */
const maxDiscoverTimeoutMs = 600_000;
/** --count of monitor: telegrams to print; without it, until Ctrl-C. */
const maxMonitorCount = 1_000_000_000;

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
      return command === '--help' || command === '-h' ? exitCodes.ok : exitCodes.usage;
  }
}

/**
 * A flag's value read by the codec's own parser (a DPT, an address): its typed error becomes a
 * `UsageError` naming the flag, since the command line, not a frame, is wrong.
 */
function readFlag<T>(flag: string, text: string, read: (text: string) => T): T {
  try {
    return read(text);
  } catch (err) {
    if (!isMeterfabricError(err)) throw err;
    throw new UsageError(`${flag} "${text}": ${err.message} (${err.code})`);
  }
}

function decode(argv: string[], out: Output): number {
  const { values, positionals } = parseCommandLine('knx decode', {
    args: argv,
    allowPositionals: true,
    options: { dpt: { type: 'string' }, cemi: { type: 'boolean', default: false } },
  });
  if (positionals.length === 0)
    throw new UsageError('knx decode needs a hex string, e.g. 06100421000a042a1700');
  // A bad --dpt is an error before anything is printed.
  if (values.dpt) readFlag('--dpt', values.dpt, dptInfo);
  const bytes = fromHex(positionals.join(''));
  const json = values.cemi
    ? describeCemi(decodeCemi(bytes), values.dpt)
    : describeFrame(decodeFrame(bytes), values.dpt);
  out.write(`${JSON.stringify(json, null, 2)}\n`);
  return 0;
}

async function discover(argv: string[], out: Output): Promise<number> {
  const { values } = parseCommandLine('knx discover', {
    args: argv,
    options: {
      target: { type: 'string', multiple: true },
      interface: { type: 'string' },
      'timeout-ms': { type: 'string', default: '3000' },
    },
  });
  const timeoutMs = readNumberFlag('--timeout-ms', values['timeout-ms'], {
    min: 1,
    max: maxDiscoverTimeoutMs,
    meaning: 'ms to wait for answers',
  });
  const found = await searchGateways({
    targets: (values.target ?? []).map((target) => readFlag('--target', target, parseEndpoint)),
    localAddress: values.interface,
    timeoutMs,
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
  const { values, positionals } = parseCommandLine('knx monitor', {
    args: argv,
    allowPositionals: true,
    options: {
      dpt: { type: 'string', multiple: true },
      count: { type: 'string' },
      local: { type: 'string' },
      'route-back': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError('knx monitor needs one gateway: host or host:port');
  const gateway = readFlag('gateway', positionals[0]!, parseEndpoint);
  const dpts = new Map<number, string>();
  for (const spec of values.dpt ?? []) {
    const [ga, dpt] = spec.split('=');
    if (!ga || !dpt) throw new UsageError(`--dpt "${spec}" must look like 5/1/20=13.010`);
    readFlag('--dpt', spec, () => dptInfo(dpt));
    dpts.set(
      readFlag('--dpt', spec, () => parseGroupAddress(ga)),
      dpt,
    );
  }
  const limit =
    values.count === undefined
      ? Number.POSITIVE_INFINITY
      : readNumberFlag('--count', values.count, {
          min: 1,
          max: maxMonitorCount,
          meaning: 'telegrams to print; leave it out to run until Ctrl-C',
        });
  const client = new TunnelClient({
    gateway,
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
  const { values } = parseCommandLine('knx simulate', {
    args: argv,
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '3671' } },
  });
  const port = readNumberFlag('--port', values.port, listenPortRange);
  const sim = new GatewaySimulator({
    host: values.host,
    port,
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
