import { connect } from 'node:net';
import { dialPortRange, exitCodes, parseCommandLine, readNumberFlag } from '../../core/command-line.js';
import { readMeter } from './iec62056/reader.js';

const usage = `usage: meterfabric iec62056 read <host:port> [--address <device address>] [--timeout-ms N] [--meter-time-zone <IANA zone>] [--ignore-unknown] [--json]

Reads a meter with an IEC 62056-21 mode C data readout through a bridge port (or any TCP
endpoint with a meter behind it) and prints its registers. Time stamps the meter prints (a
maximum demand's peak, YYMMDDhhmm) are read on its clock in --meter-time-zone (default UTC).
`;

const options = {
  address: { type: 'string', default: '' },
  'timeout-ms': { type: 'string', default: '5000' },
  'meter-time-zone': { type: 'string', default: 'UTC' },
  'ignore-unknown': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Past 10 min per step a typo (seconds given as ms × 1000) is likelier than a slow meter. */
const maxStepTimeoutMs = 600_000;

/** Exit 0 read, 1 the meter could not be read, 2 a command line it cannot read (main.ts). */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine('iec62056', {
    args: argv,
    allowPositionals: true,
    options,
  });
  const [command, target] = positionals;
  if (values.help) {
    process.stdout.write(usage);
    return exitCodes.ok;
  }
  const i = target?.lastIndexOf(':') ?? -1;
  if (command !== 'read' || !target || i <= 0) {
    process.stderr.write(usage);
    return exitCodes.usage;
  }
  const host = target.slice(0, i);
  // Read before connecting: `connect` throws a bare RangeError (a stack, exit 1) on a NaN port.
  const port = readNumberFlag("read <host:port>'s port", target.slice(i + 1), dialPortRange);
  const timeoutMs = readNumberFlag('--timeout-ms', values['timeout-ms'], {
    min: 1,
    max: maxStepTimeoutMs,
    meaning: 'ms for the connection and for each step of the readout',
  });
  const socket = connect({ host, port });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
      socket.setTimeout(timeoutMs, () =>
        reject(new Error(`no connection to ${target} within ${timeoutMs} ms`)),
      );
    });
    socket.setTimeout(0);
    const readout = await readMeter(socket, {
      deviceAddress: values.address,
      stepTimeoutMs: timeoutMs,
      unknownObis: values['ignore-unknown'] ? 'ignore' : 'error',
      meterTimeZone: values['meter-time-zone'],
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(readout, null, 2)}\n`);
    } else {
      const id = readout.identification;
      process.stdout.write(`meter ${readout.meterSerial} (${id.manufacturer} ${id.identification})\n`);
      for (const r of readout.registers) {
        process.stdout.write(
          `  ${r.obis.padEnd(8)} ${r.raw.padStart(14)} ${r.unit.padEnd(5)} ${readout.readingTypes[r.obis] ?? ''}\n`,
        );
      }
      for (const [k, v] of Object.entries(readout.metadata)) process.stdout.write(`  ${k.padEnd(8)} ${v}\n`);
      if (readout.unknownObis.length)
        process.stdout.write(`  ignored unknown OBIS: ${readout.unknownObis.join(', ')}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof Error && 'code' in err && String(err.code).startsWith('MF_')) throw err;
    process.stderr.write(`meterfabric iec62056: cannot read ${target}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    socket.destroy();
  }
}
