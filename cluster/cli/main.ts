import { exitCodeFor, exitCodes } from '../../core/command-line.js';
import { isMeterfabricError } from '../../core/errors.js';

/**
 * `meterfabric <command> ...`. Each command lives in the module of the folder that owns it
 * and exports `run(argv): Promise<number>` (the exit code). Modules load lazily so that
 * `meterfabric knx decode` does not pay for gRPC, etcd and LevelDB. A typed error a command
 * throws ends it here, with the exit code `exitCodeFor` gives (2 for a wrong command line or
 * configuration, 1 otherwise; README.md here, "Exit codes").
 */
export type CommandModule = { run(argv: string[]): Promise<number> };

type CommandEntry = { summary: string; module: string };

const commands: Record<string, CommandEntry> = {
  node: { summary: 'run one cluster node', module: './node-command.js' },
  up: { summary: 'start etcd (if needed), three nodes and the field simulators', module: './up-command.js' },
  demo: {
    summary: 'one simulated day of the demo fleet in this process, CSV + CIM under --out',
    module: '../../actors/demo/cli.js',
  },
  status: { summary: 'print nodes, partitions, health (--json)', module: './status-command.js' },
  modems: {
    summary: 'modem registry: list | import | export | show <imei>',
    module: '../../adapters/modem/cli.js',
  },
  iec62056: {
    summary: 'read a meter through a bridge port: read <host:port>',
    module: '../../adapters/modem/iec62056-cli.js',
  },
  knx: {
    summary: 'KNXnet/IP: decode <hex> | discover | monitor <gateway>',
    module: '../../adapters/knx/cli.js',
  },
  battery: {
    summary: 'battery BMS: decode can|rs485 ... | monitor <address>',
    module: '../../adapters/battery/cli.js',
  },
  cim: { summary: 'CIM: validate <file.xml> | readingtype <code>', module: '../../adapters/cim/cli.js' },
  chaos: { summary: 'chaos: toxiproxy [--host H --port P] | run <scenario>', module: '../../chaos/cli.js' },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return `usage: meterfabric <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    process.stderr.write(usage());
    return exitCodes.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return exitCodes.ok;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`meterfabric: unknown command "${name}"\n\n${usage()}`);
    return exitCodes.usage;
  }
  try {
    // A non-literal specifier: each folder owns its command module and the registry does not
    // force every folder to exist at build time.
    const specifier = new URL(entry.module, import.meta.url).href;
    const module = (await import(specifier)) as Partial<CommandModule>;
    if (typeof module.run !== 'function') throw new Error(`command module ${entry.module} exports no run()`);
    return await module.run(rest);
  } catch (err) {
    if (!isMeterfabricError(err)) throw err;
    process.stderr.write(`meterfabric ${name}: ${err.message} [${err.code}]\n`);
    return exitCodeFor(err);
  }
}
