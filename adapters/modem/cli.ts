import { writeFile } from 'node:fs/promises';
import { systemClock } from '../../core/clock.js';
import { exitCodes, parseCommandLine, readNumberFlag } from '../../core/command-line.js';
import { invariant, isMeterfabricError, UsageError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { buildAllowList } from './collector/client-access.js';
import { type CollectorOptions, ModemCollector } from './collector/collector.js';
import {
  assertImei,
  defaultIdentificationConfig,
  type IdentificationKind,
  printable,
} from './identification.js';
import { modemsToCsv, readModemFile } from './registry/import-export.js';
import { openModemStore, type StoreLocation } from './registry/open-store.js';
import type { ModemRecord, PortRange } from './registry/types.js';
import { ModemFleet } from './simulator/fleet.js';

const usage = `usage: meterfabric modems <command> [options]

commands:
  list                      modems in the registry (--json for scripts)
  show <imei>               one modem (--json)
  import <file.csv|.xlsx>   add modems from a CSV or Excel file (all or nothing) [--org <default org>]
  export [--out <file>]     the registry as CSV (stdout without --out)
  orgs                      organizations (--json)
  org <id> [--allow cidr,cidr] [--main host:port] [--backup host:port] [--name text]
                            create or change an organization (its pollers' address ranges, servers)
  serve                     run a single-node collector [--listen host:port] [--bridge-host h]
                            [--ident digits,fields,prefixed] [--ident-prefix IMEI:]
                            [--unknown register|refuse] [--poller-policy queue|refuse]
  simulate                  run simulated modems with meters [--count N] [--server host:port]

registry options: --data <dir> (default ./data/modems) | --etcd <host:port> [--cluster <name>]
                  --ports <first-last> (default 20000-29999)
`;

const options = {
  json: { type: 'boolean' },
  data: { type: 'string', default: './data/modems' },
  etcd: { type: 'string' },
  cluster: { type: 'string', default: 'meterfabric' },
  ports: { type: 'string', default: '20000-29999' },
  org: { type: 'string' },
  out: { type: 'string' },
  listen: { type: 'string', default: '127.0.0.1:7700' },
  'bridge-host': { type: 'string', default: '127.0.0.1' },
  ident: { type: 'string', default: 'digits,fields,prefixed' },
  'ident-prefix': { type: 'string', default: 'IMEI:' },
  unknown: { type: 'string', default: 'register' },
  'poller-policy': { type: 'string', default: 'queue' },
  count: { type: 'string', default: '10' },
  server: { type: 'string', default: '127.0.0.1:7700' },
  allow: { type: 'string' },
  main: { type: 'string' },
  backup: { type: 'string' },
  name: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** --ports: the bridge ports the registry hands out, first-last, both bindable ports. */
function parseRange(text: string): PortRange {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || first < 1 || last > 65_535 || first > last)
    throw new UsageError(
      `--ports must be first-last, two ports from 1 to 65535 with first <= last (e.g. 20000-29999), not "${text}"`,
    );
  return { first, last };
}

/**
 * host:port of a flag. The port must be digits within range: `Number()` would read "host:" as
 * port 0. Only --listen binds, so only it may ask for any free port (0).
 */
function hostPort(text: string, flag: string, { listen = false } = {}): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  const portText = text.slice(i + 1);
  const port = Number(portText);
  if (i <= 0 || !/^\d{1,5}$/.test(portText) || port < (listen ? 0 : 1) || port > 65535)
    throw new UsageError(`${flag} "${text}" must be host:port`);
  return { host: text.slice(0, i), port };
}

/** The commands that open the registry (`simulate` does not). */
const registryCommands: ReadonlySet<string> = new Set([
  'list',
  'show',
  'import',
  'export',
  'orgs',
  'org',
  'serve',
]);

/** The commands that take an argument, and what it is (missing: exit 2, before the store opens). */
const argumentNeeded: Readonly<Record<string, string>> = {
  show: 'an IMEI',
  import: 'a .csv or .xlsx file',
  org: 'an organization id',
};

/** Modems `simulate` starts; each holds a socket (and a timer): beyond this, a typo. */
const maxSimulatedModems = 100_000;

/**
 * `show <imei>`'s argument: one that is no IMEI at all (not 15 digits, or a wrong Luhn check
 * digit) is a wrong command line, refused before the registry is opened (which would create
 * --data); a well-formed IMEI not in the registry is the command's answer (exit 1).
 */
function commandLineImei(text: string): string {
  try {
    assertImei(text);
    return text;
  } catch (err) {
    if (!isMeterfabricError(err) || err.code !== 'MF_MODEM_IMEI_INVALID') throw err;
    throw new UsageError(
      /^\d{15}$/.test(text)
        ? `show <imei>: ${text} fails the IMEI's Luhn check digit (a mistyped IMEI?)`
        : `show <imei>: "${printable(text)}" is not an IMEI (15 digits with a Luhn check digit)`,
    );
  }
}

function row(r: ModemRecord): string {
  const seen = r.lastSeenMs ? new Date(r.lastSeenMs).toISOString() : '-';
  return `${r.imei}  ${String(r.port).padEnd(5)}  ${(r.online ? 'online' : 'offline').padEnd(7)}  ${r.organization.padEnd(12)}  csq ${String(r.signalCsq ?? '-').padEnd(2)}  gpi ${r.gpi ? r.gpi.map(Number).join('') : '-'}  last seen ${seen}`;
}

/**
 * Exit 2 for a wrong command line (an unknown command or flag, a flag value that cannot be read,
 * a missing argument), refused before the registry is opened where the flag is known up front;
 * 1 for a failure (a modem not in the registry, an import the registry refuses).
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine('modems', { args: argv, options, allowPositionals: true });
  const [command, arg] = positionals;
  if (values.help) {
    process.stdout.write(usage);
    return exitCodes.ok;
  }
  if (!command) {
    process.stderr.write(usage);
    return exitCodes.usage;
  }
  if (!registryCommands.has(command) && command !== 'simulate') {
    // Before the store opens, which would create --data for a command that does not exist.
    process.stderr.write(`unknown modems command "${command}"\n\n${usage}`);
    return exitCodes.usage;
  }
  const range = parseRange(values.ports);
  const location: StoreLocation = values.etcd
    ? { etcd: values.etcd, cluster: values.cluster }
    : { data: values.data };
  if (command === 'simulate')
    return simulate(
      readNumberFlag('--count', values.count, {
        min: 1,
        max: maxSimulatedModems,
        meaning: 'simulated modems',
      }),
      hostPort(values.server, '--server'),
    );
  // Read before the store opens (it creates --data): a bad flag or argument changes nothing.
  const serveConfig = command === 'serve' ? collectorConfig(values, range) : undefined;
  const needed = argumentNeeded[command];
  if (needed !== undefined && !arg) {
    process.stderr.write(`modems ${command} needs ${needed}\n`);
    return exitCodes.usage;
  }
  const imei = command === 'show' && arg ? commandLineImei(arg) : undefined;
  const mainServer = values.main === undefined ? undefined : hostPort(values.main, '--main');
  const backupServer = values.backup === undefined ? undefined : hostPort(values.backup, '--backup');
  const store = await openModemStore(location);
  try {
    switch (command) {
      case 'list': {
        const modems = await store.list();
        if (values.json) process.stdout.write(`${JSON.stringify(modems, null, 2)}\n`);
        else
          process.stdout.write(modems.length ? `${modems.map(row).join('\n')}\n` : 'no modems registered\n');
        return 0;
      }
      case 'show': {
        invariant(imei !== undefined, 'modems show: the IMEI is read before the store opens');
        const modem = await store.get(imei);
        if (!modem) {
          process.stderr.write(`no modem with IMEI ${imei} in the registry\n`);
          return 1;
        }
        process.stdout.write(values.json ? `${JSON.stringify(modem, null, 2)}\n` : `${row(modem)}\n`);
        return 0;
      }
      case 'import': {
        invariant(arg !== undefined, 'modems import: its argument is checked before the store opens');
        const rows = await readModemFile(arg, values.org);
        const stored = await store.importModems(rows, range, systemClock.now());
        if (values.json) process.stdout.write(`${JSON.stringify(stored, null, 2)}\n`);
        else process.stdout.write(`imported ${stored.length} modems\n${stored.map(row).join('\n')}\n`);
        return 0;
      }
      case 'export': {
        const csv = modemsToCsv(await store.list());
        if (values.out) await writeFile(values.out, csv);
        else process.stdout.write(csv);
        return 0;
      }
      case 'orgs': {
        const orgs = await store.listOrganizations();
        if (values.json) process.stdout.write(`${JSON.stringify(orgs, null, 2)}\n`);
        else
          for (const o of orgs)
            process.stdout.write(
              `${o.id.padEnd(12)} allow ${o.allowedClients.join(',') || '(nobody)'}  main ${o.mainServer ?? '-'}  backup ${o.backupServer ?? '-'}\n`,
            );
        return 0;
      }
      case 'org': {
        invariant(arg !== undefined, 'modems org: its argument is checked before the store opens');
        const org = (await store.getOrganization(arg)) ?? { id: arg, name: arg, allowedClients: [] };
        if (values.name) org.name = values.name;
        if (values.allow !== undefined) org.allowedClients = values.allow.split(',').filter(Boolean);
        if (mainServer) org.mainServer = `${mainServer.host}:${mainServer.port}`;
        if (backupServer) org.backupServer = `${backupServer.host}:${backupServer.port}`;
        buildAllowList(org); // refuses malformed ranges before anything is stored
        await store.putOrganization(org);
        process.stdout.write(
          values.json ? `${JSON.stringify(org, null, 2)}\n` : `organization ${org.id} saved\n`,
        );
        return 0;
      }
      case 'serve':
        return await serve(store, serveConfig ?? collectorConfig(values, range));
      default:
        process.stderr.write(`unknown modems command "${command}"\n\n${usage}`);
        return exitCodes.usage;
    }
  } finally {
    await store.close();
  }
}

function collectorConfig(
  values: {
    listen: string;
    'bridge-host': string;
    ident: string;
    'ident-prefix': string;
    unknown: string;
    'poller-policy': string;
  },
  range: PortRange,
): CollectorOptions['config'] {
  return {
    nodeId: 'standalone',
    modemListen: hostPort(values.listen, '--listen', { listen: true }),
    bridgeHost: values['bridge-host'],
    portRange: range,
    identification: {
      ...defaultIdentificationConfig,
      accept: parseIdentKinds(values.ident),
      prefix: values['ident-prefix'],
    },
    unknownModems: oneOf(values.unknown, ['register', 'refuse'] as const, '--unknown'),
    pollerPolicy: oneOf(values['poller-policy'], ['queue', 'refuse'] as const, '--poller-policy'),
  };
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

function parseIdentKinds(text: string): IdentificationKind[] {
  const kinds = text.split(',').map((k) => k.trim());
  for (const k of kinds) oneOf(k, ['digits', 'fields', 'prefixed'] as const, '--ident');
  return kinds as IdentificationKind[];
}

async function serve(
  store: Awaited<ReturnType<typeof openModemStore>>,
  config: CollectorOptions['config'],
): Promise<number> {
  const logger = createLogger({ component: 'modems-serve' });
  const collector = new ModemCollector({
    config,
    store,
    logger,
  });
  await collector.start();
  process.stderr.write(
    `collector: modems dial ${config.modemListen.host}:${collector.modemPort}; Ctrl-C stops\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await collector.stop();
  return 0;
}

async function simulate(count: number, server: { host: string; port: number }): Promise<number> {
  const fleet = new ModemFleet({ count, servers: [server], clock: systemClock });
  fleet.start();
  await fleet.waitAllOnline();
  process.stderr.write(`${count} simulated modems online at ${server.host}:${server.port}; Ctrl-C stops\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await fleet.stop();
  return 0;
}
