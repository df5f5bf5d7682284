import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

/**
 * Exit 2 for a wrong command line or configuration, the same for every command
 * (cluster/cli/README.md, "Exit codes"), through the real entry points: `bin/meterfabric.js`
 * and the demo's own `dist/actors/demo/cli.js`. Before session 19 an unknown flag of `node`,
 * `demo`, `chaos`, `status`, `cim`, `knx` or `battery` escaped as Node's TypeError (a stack
 * trace, exit 1), their refused values exited 1, `modems` and `iec62056` exited 2 without the
 * `[MF_USAGE]` line, and `meterfabric` or `meterfabric chaos` alone printed usage to stdout
 * (exit 2) or exited 0. Every case is refused before anything starts, so none waits on a
 * network; each run is bounded at 20 s all the same. Needs dist/ (npm test builds first).
 */

const bin = join(packageRoot, 'bin', 'meterfabric.js');
const demoEntry = join(packageRoot, 'dist', 'actors', 'demo', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'mf-exit-codes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    timeout: 20_000,
    killSignal: 'SIGKILL',
    env: { ...process.env, MF_LOG_LEVEL: 'warn', ...env },
  });
  expect(r.signal, `killed by the timeout; stdout: ${r.stdout} stderr: ${r.stderr}`).toBeNull();
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Case = {
  name: string;
  args: string[];
  /** Each must match stderr: the command, the flag or value named, the code. */
  stderr: RegExp[];
  /** A path the command would create had it started: must not exist afterwards. */
  untouched?: string;
  /** Environment beside MF_LOG_LEVEL=warn (an `MF_*` variable the command reads). */
  env?: Record<string, string>;
};

const unknown = (command: string, flag = '--bogus'): RegExp =>
  new RegExp(`^meterfabric ${command}: Unknown option '${flag}'[^\\n]*\\[MF_USAGE\\]$`, 'm');

const cases: Case[] = [
  {
    name: 'node: an unknown flag',
    args: ['node', '--id', 'n1', '--bogus'],
    stderr: [unknown('node'), /`meterfabric node --help` lists the flags/],
  },
  {
    name: 'node: a flag without its value',
    args: ['node', '--id'],
    stderr: [/^meterfabric node: Option '--id <value>' argument missing[^\n]*\[MF_USAGE\]$/m],
  },
  {
    name: 'demo: an unknown flag, the flags listed',
    args: ['demo', '--bogus', '--out', join(dir, 'demo-out-1')],
    stderr: [unknown('demo'), /the flags of `meterfabric demo`: --out, --concentrators, --meters/],
    untouched: join(dir, 'demo-out-1'),
  },
  {
    name: 'demo: a value out of range',
    args: ['demo', '--meters', '0', '--out', join(dir, 'demo-out-2')],
    stderr: [
      /^meterfabric demo: invalid configuration:\n {2}- --meters must be an integer from 1 to 1000 \(per concentrator\), not "0" \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'demo-out-2'),
  },
  {
    name: 'demo: a count in exponent form (Number read 1e3 as 1000 and the day ran)',
    args: ['demo', '--meters', '1e3', '--out', join(dir, 'demo-out-3')],
    stderr: [
      /^ {2}- --meters must be an integer from 1 to 1000 \(per concentrator\), not "1e3" \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'demo-out-3'),
  },
  {
    name: 'chaos run: an unknown flag',
    args: ['chaos', 'run', 'mixed', '--bogus', '--out', join(dir, 'chaos-1')],
    stderr: [unknown('chaos'), /`meterfabric chaos run --help` lists the flags/],
    untouched: join(dir, 'chaos-1'),
  },
  {
    name: 'chaos run: an unknown scenario',
    args: ['chaos', 'run', 'nope', '--out', join(dir, 'chaos-2')],
    stderr: [/^meterfabric chaos: unknown chaos scenario "nope"; choose one of: mixed[^\n]*\[MF_USAGE\]$/m],
    untouched: join(dir, 'chaos-2'),
  },
  {
    name: 'chaos run: a value out of range',
    args: ['chaos', 'run', 'mixed', '--rounds', '0', '--out', join(dir, 'chaos-3')],
    stderr: [
      /--rounds must be an integer from 1 to 100000 \(fault rounds\), not "0" \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'chaos-3'),
  },
  {
    name: 'chaos toxiproxy: an unknown flag',
    args: ['chaos', 'toxiproxy', '--bogus'],
    stderr: [unknown('chaos'), /`meterfabric chaos toxiproxy --help` lists the flags/],
  },
  { name: 'chaos without a subcommand', args: ['chaos'], stderr: [/^usage: meterfabric chaos toxiproxy/] },
  { name: 'meterfabric without a command', args: [], stderr: [/^usage: meterfabric <command>/] },
  { name: 'status: an unknown flag', args: ['status', '--bogus'], stderr: [unknown('status')] },
  {
    name: 'cim validate: an unknown flag',
    args: ['cim', 'validate', join(dir, 'x.xml'), '--bogus'],
    stderr: [unknown('cim'), /the flags of `meterfabric cim validate`: --xsd, --no-xsd/],
  },
  {
    name: 'cim validate: a file that does not exist',
    args: ['cim', 'validate', join(dir, 'missing.xml')],
    stderr: [/^meterfabric cim: cannot read \S*missing\.xml \(ENOENT[^\n]*\[MF_USAGE\]$/m],
  },
  {
    name: 'knx decode: an unknown flag',
    args: ['knx', 'decode', '06100421000a042a1700', '--bogus'],
    stderr: [unknown('knx'), /the flags of `meterfabric knx decode`: --dpt, --cemi/],
  },
  {
    name: 'knx decode: no frame',
    args: ['knx', 'decode'],
    stderr: [/^meterfabric knx: knx decode needs a hex string[^\n]*\[MF_USAGE\]$/m],
  },
  {
    name: 'knx monitor: an unknown --dpt, before any connection',
    args: ['knx', 'monitor', '127.0.0.1:1', '--dpt', '5/1/20=99.999'],
    stderr: [/^meterfabric knx: --dpt "5\/1\/20=99\.999": [^\n]*\(MF_KNX_DPT_UNKNOWN\) \[MF_USAGE\]$/m],
  },
  {
    name: 'battery decode can: an unknown flag',
    args: ['battery', 'decode', 'can', '351', '0000', '--bogus'],
    stderr: [unknown('battery')],
  },
  {
    name: 'battery simulate: an unknown --scenario, before binding',
    args: ['battery', 'simulate', '--scenario', 'nope'],
    stderr: [/^meterfabric battery: --scenario: unknown scenario "nope"[^\n]*\[MF_USAGE\]$/m],
  },
  {
    name: 'battery monitor: an address that is not host:port, before connecting',
    args: ['battery', 'monitor', 'nowhere'],
    stderr: [/^meterfabric battery: monitor <host:port>: "nowhere" is not host:port \[MF_USAGE\]$/m],
  },
  {
    name: 'modems: an unknown flag',
    args: ['modems', 'list', '--bogus', '--data', join(dir, 'modems-1')],
    stderr: [unknown('modems'), /`meterfabric modems --help` lists the flags/],
    untouched: join(dir, 'modems-1'),
  },
  {
    name: 'modems serve: a bad --unknown, before the registry is opened',
    args: ['modems', 'serve', '--unknown', 'maybe', '--data', join(dir, 'modems-2')],
    stderr: [/^meterfabric modems: --unknown must be one of register, refuse, got "maybe" \[MF_USAGE\]$/m],
    untouched: join(dir, 'modems-2'),
  },
  {
    name: 'modems simulate: a --server that is not host:port',
    args: ['modems', 'simulate', '--server', 'nowhere'],
    stderr: [/^meterfabric modems: --server "nowhere" must be host:port \[MF_USAGE\]$/m],
  },
  // Session 20: every numeric flag read by one reader (core/command-line.ts, readNumberFlag);
  // before, each of these passed Number() (NaN, or a value out of range) and the command ran.
  {
    name: 'knx simulate: --port that is not a number, before binding',
    args: ['knx', 'simulate', '--port', 'abc'],
    stderr: [/^meterfabric knx: --port must be an integer from 0 to 65535 [^\n]*not "abc" \[MF_USAGE\]$/m],
  },
  {
    name: 'knx discover: --timeout-ms that is not a number, before searching',
    args: ['knx', 'discover', '--timeout-ms', 'soon'],
    stderr: [
      /^meterfabric knx: --timeout-ms must be an integer from 1 to 600000 [^\n]*not "soon" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'knx monitor: --count 0, before connecting',
    args: ['knx', 'monitor', '127.0.0.1:1', '--count', '0'],
    stderr: [
      /^meterfabric knx: --count must be an integer from 1 to 1000000000 [^\n]*not "0" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'battery simulate: --packs out of 1-4, as a wrong command line',
    args: ['battery', 'simulate', '--packs', '9'],
    stderr: [/^meterfabric battery: --packs must be an integer from 1 to 4 [^\n]*not "9" \[MF_USAGE\]$/m],
  },
  {
    name: 'battery simulate: --time-scale 0, before binding',
    args: ['battery', 'simulate', '--time-scale', '0'],
    stderr: [
      /^meterfabric battery: --time-scale must be a number above 0 and at most 86400 [^\n]*not "0" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'battery simulate: --rs485-port that is not a number, before binding',
    args: ['battery', 'simulate', '--rs485-port', 'x'],
    stderr: [
      /^meterfabric battery: --rs485-port must be an integer from 0 to 65535 [^\n]*not "x" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'battery monitor: --duration-ms that is not a number, before connecting',
    args: ['battery', 'monitor', '127.0.0.1:1', '--duration-ms', 'abc'],
    stderr: [
      /^meterfabric battery: --duration-ms must be an integer from 1 to 2147483647 [^\n]*not "abc" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'battery monitor: --reading-interval-ms 0, before connecting',
    args: ['battery', 'monitor', '127.0.0.1:1', '--reading-interval-ms', '0'],
    stderr: [
      /^meterfabric battery: --reading-interval-ms must be an integer from 100 to 86400000 [^\n]*not "0" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'iec62056 read: --timeout-ms that is not a number, before connecting',
    args: ['iec62056', 'read', '127.0.0.1:1', '--timeout-ms', 'abc'],
    stderr: [
      /^meterfabric iec62056: --timeout-ms must be an integer from 1 to 600000 [^\n]*not "abc" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'iec62056 read: a port that is not a number (was a RangeError stack, exit 1)',
    args: ['iec62056', 'read', '127.0.0.1:abc'],
    stderr: [
      /^meterfabric iec62056: read <host:port>'s port must be an integer from 1 to 65535, not "abc" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'modems simulate: --count in hex (Number would read 16)',
    args: ['modems', 'simulate', '--count', '0x10'],
    stderr: [
      /^meterfabric modems: --count must be an integer from 1 to 100000 [^\n]*not "0x10" \[MF_USAGE\]$/m,
    ],
  },
  {
    name: 'modems list: --ports past 65535, before the registry is opened',
    args: ['modems', 'list', '--ports', '70000-80000', '--data', join(dir, 'modems-3')],
    stderr: [
      /^meterfabric modems: --ports must be first-last, two ports from 1 to 65535 [^\n]*not "70000-80000" \[MF_USAGE\]$/m,
    ],
    untouched: join(dir, 'modems-3'),
  },
  {
    name: 'modems show: an IMEI that is not 15 digits, before the registry is opened',
    args: ['modems', 'show', '12345', '--data', join(dir, 'modems-4')],
    stderr: [
      /^meterfabric modems: show <imei>: "12345" is not an IMEI \(15 digits with a Luhn check digit\) \[MF_USAGE\]$/m,
    ],
    untouched: join(dir, 'modems-4'),
  },
  {
    name: 'modems show: an IMEI with a wrong Luhn check digit, before the registry is opened',
    args: ['modems', 'show', '490154203237519', '--data', join(dir, 'modems-5')],
    stderr: [
      /^meterfabric modems: show <imei>: 490154203237519 fails the IMEI's Luhn check digit[^\n]*\[MF_USAGE\]$/m,
    ],
    untouched: join(dir, 'modems-5'),
  },
  {
    name: 'modems: an unknown command, before the registry is opened',
    args: ['modems', 'bogus', '--data', join(dir, 'modems-7')],
    stderr: [/^unknown modems command "bogus"$/m],
    untouched: join(dir, 'modems-7'),
  },
  {
    name: 'modems import: no file, before the registry is opened',
    args: ['modems', 'import', '--data', join(dir, 'modems-8')],
    stderr: [/^modems import needs a \.csv or \.xlsx file$/m],
    untouched: join(dir, 'modems-8'),
  },
  {
    name: 'modems org: a --main that is not host:port, before the registry is opened',
    args: ['modems', 'org', 'water', '--main', 'nowhere', '--data', join(dir, 'modems-6')],
    stderr: [/^meterfabric modems: --main "nowhere" must be host:port \[MF_USAGE\]$/m],
    untouched: join(dir, 'modems-6'),
  },
  {
    name: 'chaos toxiproxy: --port in hex (Number would read 16)',
    args: ['chaos', 'toxiproxy', '--port', '0x10'],
    stderr: [/--port must be an integer from 0 to 65535 [^\n]*not "0x10" \[MF_CONFIG_INVALID\]$/m],
  },
  {
    name: 'chaos run: --lease-ttl-ms the nodes would refuse, before any node starts',
    args: ['chaos', 'run', 'mixed', '--lease-ttl-ms', '500', '--out', join(dir, 'chaos-4')],
    stderr: [/--lease-ttl-ms must be an integer from 2000 to 60000 [^\n]*not "500" \[MF_CONFIG_INVALID\]$/m],
    untouched: join(dir, 'chaos-4'),
  },
  {
    name: 'node: --lease-ttl-ms out of range names the flag, the setting as detail',
    args: [
      'node',
      ...['--id', 'n1', '--listen', '127.0.0.1:0', '--etcd', '127.0.0.1:1', '--data', join(dir, 'node-1')],
      ...['--lease-ttl-ms', '5'],
    ],
    stderr: [
      /^ {2}- --lease-ttl-ms must be an integer from 2000 to 60000 \(setting leaseTtlMs\), not "5" \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'node-1'),
  },
  {
    name: 'node: --lease-ttl-ms that is not a number (was "expected number, received NaN")',
    args: [
      'node',
      ...['--id', 'n1', '--listen', '127.0.0.1:0', '--etcd', '127.0.0.1:1', '--data', join(dir, 'node-2')],
      ...['--lease-ttl-ms', 'abc'],
    ],
    stderr: [
      /^ {2}- --lease-ttl-ms must be an integer from 2000 to 60000 [^\n]*not "abc" \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'node-2'),
  },
  {
    name: 'node: a refused --listen and --id name the flags, not the settings',
    args: [
      'node',
      '--id',
      'N1',
      '--listen',
      'nowhere',
      '--etcd',
      '127.0.0.1:1',
      '--data',
      join(dir, 'node-3'),
    ],
    stderr: [
      /^ {2}- --id \(setting nodeId\): use 1-32 lower-case letters/m,
      /^ {2}- --listen \(setting listen\): must be host:port/m,
    ],
    untouched: join(dir, 'node-3'),
  },
  {
    name: 'iec62056: an unknown flag',
    args: ['iec62056', 'read', '127.0.0.1:1', '--bogus'],
    stderr: [unknown('iec62056')],
  },
  // Session 20: numeric MF_* variables read as strictly as the flags (readNumberEnv). Before,
  // Number() read MF_DEMO_METERS=1e3 as 1000 and `up` started etcd and the nodes, and
  // MF_LEASE_TTL_MS=abc reached the schema as NaN ("expected number, received nan").
  {
    name: 'up: MF_DEMO_METERS in exponent form, before etcd or a node starts',
    // An etcd `up` can neither reach nor start (TEST-NET-1): had the variable passed, `up` would
    // stop at that, never starting a cluster on this machine's default 127.0.0.1:2379.
    args: ['up', '--etcd', '192.0.2.1:2379', '--data', join(dir, 'up-1')],
    env: { MF_DEMO_METERS: '1e3' },
    stderr: [
      /^ {2}- MF_DEMO_METERS must be an integer from 1 to 1000 \(per concentrator\), not "1e3" \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'up-1'),
  },
  {
    name: 'node: MF_LEASE_TTL_MS that is not a number names the variable, the setting as detail',
    args: [
      'node',
      ...['--id', 'n1', '--listen', '127.0.0.1:0', '--etcd', '127.0.0.1:1', '--data', join(dir, 'node-4')],
    ],
    env: { MF_LEASE_TTL_MS: 'abc' },
    stderr: [
      /^ {2}- MF_LEASE_TTL_MS must be an integer from 2000 to 60000 \(setting leaseTtlMs\), not "abc" \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'node-4'),
  },
  {
    name: 'node: MF_GROUP_COMMIT_LINGER_MS out of range (was an Error with a stack at import, exit 1)',
    args: [
      'node',
      ...['--id', 'n1', '--listen', '127.0.0.1:0', '--etcd', '127.0.0.1:1', '--data', join(dir, 'node-5')],
    ],
    env: { MF_GROUP_COMMIT_LINGER_MS: '500' },
    stderr: [
      /^ {2}- MF_GROUP_COMMIT_LINGER_MS must be a number from 0 to 100 [^\n]*not "500" \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'node-5'),
  },
];

describe.skipIf(!existsSync(demoEntry))(
  'a wrong command line or configuration exits 2, naming what is wrong',
  () => {
    it.each(cases)('$name', ({ args, stderr, untouched, env }) => {
      const r = cli([bin, ...args], env);
      expect(r.status, r.stderr).toBe(2);
      for (const pattern of stderr) expect(r.stderr).toMatch(pattern);
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
      expect(r.stdout).toBe('');
      if (untouched) expect(existsSync(untouched)).toBe(false);
    });

    it('node dist/actors/demo/cli.js (the demo alone): an unknown flag exits 2 too', () => {
      const out = join(dir, 'demo-direct');
      const r = cli([demoEntry, '--bogus', '--out', out]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^Unknown option '--bogus'/);
      expect(existsSync(out)).toBe(false);
    });
  },
);
