import {
  exitCodes,
  listenPortRange,
  maxTimerMs,
  parseCommandLine,
  readNumberFlag,
} from '../../core/command-line.js';
import { isMeterfabricError, type MeterfabricError, UsageError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import type { CollectedReading, DeviceEvent } from '../field-data.js';
import { decodeCanFrame } from './can/decode.js';
import { assertValidCanFrame, type CanFrame, fromHex } from './can/frame.js';
import { BatteryCodecError } from './errors.js';
import { BatteryMonitor } from './monitor/monitor.js';
import { BatteryRs485Monitor } from './monitor/rs485-monitor.js';
import { commands, type DecodedReply, decodeReply, decodeRequest, isKnownCommand } from './rs485/commands.js';
import { bytesToHex, decodeRs485Frame, type Rs485Frame } from './rs485/frame.js';
import { isScenarioName } from './sim/scenarios.js';
import { BatterySiteSimulator } from './sim/simulator.js';
import { Rs485Client } from './transport/rs485-client.js';
import { connectSocketcand } from './transport/socketcand.js';
import { connectTcp, parseAddress } from './transport/tcp.js';
import type { Transport } from './transport/transport.js';
import { canetWireFormat, rs485WireFormat } from './transport/wire-formats.js';

/**
 * `meterfabric battery ...`:
 *   decode can <id> <hex> [--extended]           one CAN frame → JSON (field names carry units)
 *   decode rs485 '<frame>' [--reply-to 42] [--all-packs]
 *   monitor <host:port> [--rs485 | --socketcand bus] [--device-id ID] [--duration-ms N] [--listen-only]
 *   simulate [--listen host:port] [--packs 1-4] [--scenario NAME] [--variant pylon-v1.2|sofar-extended] [--rs485-port N]
 * Decode errors print `{"error":{code,message,details}}` and exit 1. An unknown subcommand or
 * flag, a missing argument, an address that is not host:port, an unknown --scenario or
 * --variant, a numeric flag out of its range (`numberFlags`): a usage error, exit 2, before
 * anything connects or binds.
 */

/** The numeric flags' ranges; `readNumberFlag` names the flag when a value is outside. */
const numberFlags = {
  // Below 100 ms a monitor would poll the bus (RS485) or emit readings faster than a BMS updates.
  'reading-interval-ms': { min: 100, max: 86_400_000, meaning: 'ms between readings' },
  // A Node timer longer than maxTimerMs fires at once: the monitor would stop immediately.
  'duration-ms': { min: 1, max: maxTimerMs, meaning: 'ms to monitor; leave it out to run until Ctrl-C' },
  // The simulator's own bound (BatterySiteSimulator: 1 to 4 packs).
  packs: { min: 1, max: 4, meaning: 'battery packs on the simulated bus' },
  'rs485-port': listenPortRange,
  // A day per second at most, as `meterfabric demo --speed`.
  'time-scale': { integer: false, above: 0, max: 86_400, meaning: 'simulated seconds per second' },
} as const;

function readBatteryNumber(
  flag: keyof typeof numberFlags,
  text: string | undefined,
  fallback: number,
): number;
function readBatteryNumber(flag: keyof typeof numberFlags, text: string | undefined): number | undefined;
function readBatteryNumber(
  flag: keyof typeof numberFlags,
  text: string | undefined,
  fallback?: number,
): number | undefined {
  return text === undefined ? fallback : readNumberFlag(`--${flag}`, text, numberFlags[flag]);
}
const usage = `usage:
  meterfabric battery decode can <id> <hex> [--extended]
  meterfabric battery decode rs485 '<~frame>' [--reply-to <cid2 hex>] [--all-packs]
  meterfabric battery monitor <host:port> [--rs485 | --socketcand <bus>] [--device-id ID] [--duration-ms N] [--reading-interval-ms N] [--listen-only]
  meterfabric battery simulate [--listen host:port] [--packs 1-4] [--scenario normal-day|over-temperature|deep-discharge|over-current|heartbeat-loss|idle]
                               [--variant pylon-v1.2|sofar-extended] [--rs485-port N] [--time-scale N]
`;

const hexKeys = new Set(['cid1', 'cid2', 'command', 'ver', 'adr']);

function print(value: unknown): void {
  const replacer = (key: string, v: unknown) => {
    if (v instanceof Uint8Array) return bytesToHex(v);
    if (hexKeys.has(key) && typeof v === 'number')
      return `0x${v.toString(16).toUpperCase().padStart(2, '0')}`;
    return v;
  };
  process.stdout.write(`${JSON.stringify(value, replacer, 2)}\n`);
}

function printError(err: unknown): number {
  if (isMeterfabricError(err)) {
    print({ error: err.toJSON() });
    return 1;
  }
  throw err;
}

function parseCanId(text: string | undefined): number {
  const clean = (text ?? '').replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,8}$/.test(clean)) {
    throw new BatteryCodecError(
      'MF_BATTERY_CAN_ID',
      `"${text ?? ''}" is not a hex CAN id (e.g. 351 or 0x1351)`,
    );
  }
  return Number.parseInt(clean, 16);
}

function decodeCan(args: string[]): number {
  const { values, positionals } = parseCommandLine('battery decode can', {
    args,
    allowPositionals: true,
    options: { extended: { type: 'boolean' } },
  });
  const [idText, hex] = positionals;
  if (idText === undefined || hex === undefined) {
    process.stderr.write(usage);
    return exitCodes.usage;
  }
  try {
    const id = parseCanId(idText);
    const frame: CanFrame = { id, extended: values.extended ?? id > 0x7ff, data: fromHex(hex) };
    assertValidCanFrame(frame);
    // Ids read better in hex, as they appear in every protocol document.
    print({ ...decodeCanFrame(frame), id: `0x${id.toString(16).toUpperCase()}` });
    return 0;
  } catch (err) {
    return printError(err);
  }
}

/** An address given on the command line: one it cannot read is a usage error (exit 2), naming where. */
function commandLineAddress(
  where: string,
  text: string,
  options: { allowPortZero?: boolean } = {},
): { host: string; port: number } {
  try {
    return parseAddress(text, options);
  } catch (err) {
    if (!isMeterfabricError(err)) throw err;
    throw new UsageError(`${where}: ${err.message}`);
  }
}

/** Guesses which command a reply answers from its INFO size (a pasted reply carries no CID2). */
function guessCommand(frame: Rs485Frame): number[] {
  switch (frame.info.length) {
    case 0:
      return [commands.protocolVersion];
    case 10:
      return [commands.chargeManagement];
    case 17:
      return [commands.serialNumber];
    case 25:
      return [commands.systemParameters];
    case 32:
      return [commands.manufacturer];
    default:
      return [commands.analogValues, commands.alarmInfo];
  }
}

function decodeRs485(args: string[]): number {
  const { values, positionals } = parseCommandLine('battery decode rs485', {
    args,
    allowPositionals: true,
    options: { 'reply-to': { type: 'string' }, 'all-packs': { type: 'boolean' } },
  });
  const text = positionals[0];
  if (text === undefined) {
    process.stderr.write(usage);
    return exitCodes.usage;
  }
  try {
    // Shells make a trailing CR awkward to type; accept the frame with or without it.
    const frame = decodeRs485Frame(text.replace(/\\r$/, '').trimEnd());
    const header = {
      ver: frame.ver,
      adr: frame.adr,
      cid1: frame.cid1,
      cid2: frame.cid2,
      infoHex: bytesToHex(frame.info),
    };
    if (values['reply-to'] === undefined && frame.cid2 !== 0 && isKnownCommand(frame.cid2)) {
      print({ type: 'request', frame: header, request: decodeRequest(frame) });
      return 0;
    }
    const options = values['all-packs'] === undefined ? {} : { allPacks: values['all-packs'] };
    if (values['reply-to'] !== undefined) {
      const reply = decodeReply(frame, parseCanId(values['reply-to']), options);
      print({ type: 'reply', frame: header, reply });
      return 0;
    }
    let lastError: unknown;
    for (const command of guessCommand(frame)) {
      try {
        const reply: DecodedReply = decodeReply(frame, command, options);
        print({ type: 'reply', inferredCommand: true, frame: header, reply });
        return 0;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  } catch (err) {
    return printError(err);
  }
}

function printReadings(readings: CollectedReading[]): void {
  for (const r of readings) {
    const q = r.quantity.source === 'battery' ? r.quantity.quantity : JSON.stringify(r.quantity);
    process.stdout.write(
      `${new Date(r.timestampMs).toISOString()} ${r.meterSerial} ${q} ${r.value} ${r.unit}\n`,
    );
  }
}

function printEvent(e: DeviceEvent): void {
  process.stdout.write(
    `${new Date(e.timestampMs).toISOString()} EVENT ${e.key} ${e.phase} ${JSON.stringify(e.details ?? {})}\n`,
  );
}

function printRejected(e: MeterfabricError): void {
  process.stderr.write(`rejected: ${e.message} [${e.code}]\n`);
}

async function monitor(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine('battery monitor', {
    args,
    allowPositionals: true,
    options: {
      'device-id': { type: 'string' },
      'duration-ms': { type: 'string' },
      'reading-interval-ms': { type: 'string' },
      'listen-only': { type: 'boolean' },
      rs485: { type: 'boolean' },
      socketcand: { type: 'string' },
    },
  });
  if (positionals[0] === undefined) {
    process.stderr.write(usage);
    return exitCodes.usage;
  }
  const { host, port } = commandLineAddress('monitor <host:port>', positionals[0]);
  const deviceId = values['device-id'] ?? `battery@${host}:${port}`;
  const intervalMs = readBatteryNumber('reading-interval-ms', values['reading-interval-ms'], 5_000);
  const durationMs = readBatteryNumber('duration-ms', values['duration-ms']);
  let stop: () => void;
  let transport: Transport<CanFrame> | Transport<Rs485Frame>;
  if (values.rs485) {
    const rs485 = await connectTcp(host, port, rs485WireFormat);
    const client = new Rs485Client(rs485);
    const mon = new BatteryRs485Monitor({
      deviceId,
      client,
      pollIntervalMs: intervalMs,
      onReadings: printReadings,
      onEvent: printEvent,
      onError: printRejected,
    });
    mon.start();
    stop = () => {
      mon.stop();
      client.close();
    };
    transport = rs485;
  } else {
    const can = values.socketcand
      ? await connectSocketcand(host, port, values.socketcand)
      : await connectTcp(host, port, canetWireFormat);
    const mon = new BatteryMonitor({
      deviceId,
      transport: can,
      readingIntervalMs: intervalMs,
      heartbeatIntervalMs: values['listen-only'] ? 0 : 1_000,
      onReadings: printReadings,
      onEvent: printEvent,
      onDecodeError: printRejected,
    });
    mon.start();
    stop = () => mon.stop();
    transport = can;
  }
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      process.removeListener('SIGINT', done);
      process.removeListener('SIGTERM', done);
      if (timer) clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    transport.subscribe((e) => {
      if (e.type === 'closed') done();
    });
    if (durationMs !== undefined) timer = setTimeout(done, durationMs);
  });
  stop();
  await transport.close();
  return 0;
}

async function simulate(args: string[]): Promise<number> {
  const { values } = parseCommandLine('battery simulate', {
    args,
    options: {
      listen: { type: 'string' },
      packs: { type: 'string' },
      scenario: { type: 'string' },
      variant: { type: 'string' },
      'rs485-port': { type: 'string' },
      'time-scale': { type: 'string' },
    },
  });
  const listen = values.listen
    ? commandLineAddress('--listen', values.listen, { allowPortZero: true })
    : { host: '127.0.0.1', port: 0 };
  const scenario = values.scenario ?? 'normal-day';
  // Checked before the simulator binds anything: a wrong flag, exit 2.
  if (!isScenarioName(scenario))
    throw new UsageError(
      `--scenario: unknown scenario "${scenario}"; \`meterfabric battery --help\` lists them`,
    );
  const variant = values.variant ?? 'pylon-v1.2';
  if (variant !== 'pylon-v1.2' && variant !== 'sofar-extended')
    throw new UsageError(`--variant: unknown variant "${variant}"; use pylon-v1.2 or sofar-extended`);
  const packCount = readBatteryNumber('packs', values.packs, 1);
  const rs485Port = readBatteryNumber('rs485-port', values['rs485-port'], 0);
  const timeScale = readBatteryNumber('time-scale', values['time-scale'], 1);
  const sim = await BatterySiteSimulator.start({
    host: listen.host,
    canPort: listen.port,
    packCount,
    scenario,
    variant,
    rs485: values['rs485-port'] !== undefined,
    rs485Port,
    timeScale,
    logger: createLogger({ component: 'battery-sim' }),
  });
  process.stdout.write(
    `battery simulator: ${scenario}, CANET on ${sim.canAddress.host}:${sim.canAddress.port}${sim.rs485Address ? `, RS485 on ${sim.rs485Address.host}:${sim.rs485Address.port}` : ''}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await sim.stop();
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === 'decode' && sub === 'can') return decodeCan(rest);
  if (command === 'decode' && sub === 'rs485') return decodeRs485(rest);
  if (command === 'monitor') return monitor(sub === undefined ? rest : [sub, ...rest]);
  if (command === 'simulate') return simulate(sub === undefined ? rest : [sub, ...rest]);
  const help = command === '--help' || command === '-h';
  (help ? process.stdout : process.stderr).write(usage);
  return help ? exitCodes.ok : exitCodes.usage;
}
