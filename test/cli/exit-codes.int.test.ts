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

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    timeout: 20_000,
    killSignal: 'SIGKILL',
    env: { ...process.env, MF_LOG_LEVEL: 'warn' },
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
      /^meterfabric demo: invalid configuration:\n {2}- --meters must be an integer 1\.\.1000 \[MF_CONFIG_INVALID\]$/m,
    ],
    untouched: join(dir, 'demo-out-2'),
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
    stderr: [/--rounds must be a positive integer, got "0" \[MF_CONFIG_INVALID\]$/m],
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
  {
    name: 'iec62056: an unknown flag',
    args: ['iec62056', 'read', '127.0.0.1:1', '--bogus'],
    stderr: [unknown('iec62056')],
  },
];

describe.skipIf(!existsSync(demoEntry))(
  'a wrong command line or configuration exits 2, naming what is wrong',
  () => {
    it.each(cases)('$name', ({ args, stderr, untouched }) => {
      const r = cli([bin, ...args]);
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
