import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../cluster/cli/up-command.js';
import {
  etcdStartProblems,
  parseUpArgs,
  planUp,
  type UpPlan,
  type UpPlanContext,
} from '../../cluster/cli/up-plan.js';
import { ConfigError, UsageError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';

/**
 * `up`'s flags read into a plan before anything starts (cluster/cli/up-plan.ts): every flag and
 * combination `up` refuses, each refused here, with nothing started. Two of them were found
 * only after etcd had started before session 18: bridge flags without the head-end hook (an
 * orphan etcd) and a manifest the nodes cannot load (MF_MANIFESTS).
 */

const demoManifests = [
  join(packageRoot, 'cluster', 'config', 'runtime-services.json'),
  join(packageRoot, 'actors', 'hosting', 'headend-services.json'),
];
const withHook: UpPlanContext = { env: {}, hook: { manifests: demoManifests }, cwd: '/tmp' };

async function plan(args: string[], context: Partial<UpPlanContext> = {}): Promise<UpPlan> {
  return planUp(parseUpArgs(args), { ...withHook, ...context });
}

/** The problems planUp lists for `args` (fails the test when it accepts them). */
async function problemsOf(args: string[], context: Partial<UpPlanContext> = {}): Promise<string[]> {
  const err = await plan(args, context).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).details.problems as string[];
}

describe('up plan: a valid command line', () => {
  it('the defaults: three nodes, etcd at 127.0.0.1:2379 (peer 2380), 5 restarts, the demo with its manifests', async () => {
    const p = await plan([]);
    expect(p).toMatchObject({
      dataDir: '/tmp/data',
      etcd: { endpoint: '127.0.0.1:2379', host: '127.0.0.1', clientPort: 2379, peerPort: 2380 },
      nodeIds: ['n1', 'n2', 'n3'],
      maxWaitSeconds: 300,
      maxNodeRestarts: 5,
      demo: true,
      integration: {},
      hostedPorts: [],
      day: {},
      nodeEnv: { MF_MANIFESTS: demoManifests.join(',') },
    });
    expect(p.requestedBasePort).toBeUndefined();
    // The manifests' replica counts, for the catch-up of a restarted node.
    expect(p.replicaTargets.size).toBeGreaterThan(0);
  });

  it('flags as given; --no-demo runs the bare cluster without the hook and its manifests', async () => {
    const p = await plan([
      '--nodes',
      '5',
      '--base-port',
      '8100',
      '--etcd',
      'localhost:3379',
      '--no-restart',
      '--max-wait-seconds',
      '30',
      '--no-demo',
    ]);
    expect(p).toMatchObject({
      nodeIds: ['n1', 'n2', 'n3', 'n4', 'n5'],
      requestedBasePort: 8100,
      etcd: { host: 'localhost', clientPort: 3379, peerPort: 3380 },
      maxNodeRestarts: 0,
      maxWaitSeconds: 30,
      demo: false,
      nodeEnv: {},
    });
  });

  it('the bridge and metrics addresses are planned for the bind check, port 0 too', async () => {
    const p = await plan(['--http-port', '0', '--grpc-port', '7443', '--metrics', '127.0.0.1:9464']);
    expect(p.hostedPorts).toEqual([
      { flag: '--http-port', host: '127.0.0.1', port: 0 },
      { flag: '--grpc-port', host: '127.0.0.1', port: 7443 },
      { flag: '--metrics', host: '127.0.0.1', port: 9464 },
    ]);
  });
});

describe('up plan: each flag and combination up refuses, before anything starts', () => {
  const cases: { args: string[]; context?: Partial<UpPlanContext>; problem: string }[] = [
    { args: ['--nodes', '0'], problem: '--nodes must be an integer from 1 to 9, not "0"' },
    { args: ['--nodes', '10'], problem: '--nodes must be an integer from 1 to 9, not "10"' },
    { args: ['--nodes', 'three'], problem: '--nodes must be an integer from 1 to 9, not "three"' },
    {
      args: ['--base-port', '80'],
      problem:
        '--base-port must be an integer from 1024 to 65000 (or leave it out and up picks free ports), not "80"',
    },
    { args: ['--base-port', '70000'], problem: '--base-port must be an integer from 1024 to 65000' },
    { args: ['--max-wait-seconds', '0'], problem: '--max-wait-seconds must be a number from 1 to 86400' },
    { args: ['--max-wait-seconds', 'soon'], problem: '--max-wait-seconds must be a number from 1 to 86400' },
    {
      args: ['--etcd', '127.0.0.1'],
      problem: '--etcd must be host:port (e.g. 127.0.0.1:2379), not "127.0.0.1"',
    },
    { args: ['--etcd', '127.0.0.1:99999'], problem: '--etcd must be host:port' },
    { args: ['--etcd', 'http://127.0.0.1:2379'], problem: '--etcd must be host:port' },
    {
      args: ['--no-restart', '--max-node-restarts', '3'],
      problem: '--no-restart and --max-node-restarts contradict each other: pass one of them',
    },
    { args: ['--max-node-restarts', '101'], problem: '--max-node-restarts must be an integer from 0 to 100' },
    { args: ['--max-node-restarts=-1'], problem: '--max-node-restarts must be an integer from 0 to 100' },
    { args: ['--speed', '0'], problem: '--speed must be a number above 0 and at most 86400' },
    {
      args: ['--load-profile-every-minutes', '7'],
      problem: '--load-profile-every-minutes must be a positive integer dividing 1440',
    },
    {
      args: ['--http-port', '70000'],
      problem: '--http-port must be an integer from 0 to 65535 (0: any free port)',
    },
    {
      args: ['--grpc-port', 'x'],
      problem: '--grpc-port must be an integer from 0 to 65535 (0: any free port)',
    },
    // Each passed Number() before session 20 (100 s, 300 s): read by the one numeric reader now.
    {
      args: ['--max-wait-seconds', '1e2'],
      problem: '--max-wait-seconds must be a number from 1 to 86400, not "1e2"',
    },
    {
      args: ['--max-wait-seconds', ' 300'],
      problem: '--max-wait-seconds must be a number from 1 to 86400, not " 300"',
    },
    {
      args: ['--token-file', '/nonexistent'],
      problem:
        '--token-file configures the bridge, which only starts with --http-port and/or --grpc-port: add one, or drop --token-file (without a port it would do nothing)',
    },
    { args: ['--http-port', '0', '--bridge-host', ''], problem: '--bridge-host is empty' },
    { args: ['--metrics', 'nowhere'], problem: '--metrics must be host:port (e.g. 127.0.0.1:9464' },
    {
      args: ['--http-port', '0', '--no-demo'],
      problem: 'the bridge, webhook and metrics flags need the head-end this process drives: drop --no-demo',
    },
    {
      args: ['--no-demo', '--speed', '2'],
      problem: '--speed configures the demo day, which --no-demo does not run: drop one of them',
    },
    {
      args: ['--load-profile-every-minutes', '15'],
      context: { hook: null },
      problem:
        '--load-profile-every-minutes needs the head-end (dist/actors/demo/up.js): run `npm run build`, or drop it',
    },
    // Found only after etcd had started before session 18, which then stayed running.
    {
      args: ['--metrics', '127.0.0.1:0'],
      context: { hook: null },
      problem: 'the bridge, webhook and metrics flags need the head-end (dist/actors/demo/up.js)',
    },
    // Found only after etcd had started before session 18 (then stopped again).
    {
      args: [],
      context: { env: { MF_MANIFESTS: '/nonexistent/services.json' } },
      problem: 'manifest /nonexistent/services.json: cannot read',
    },
    // Found only when the head-end bound them, after the whole cluster had started.
    {
      args: ['--metrics', '127.0.0.1:2379'],
      problem:
        "--metrics 2379 is also etcd's client port (from --etcd 127.0.0.1:2379): pass another --metrics (0: any free port)",
    },
    {
      args: ['--http-port', '2380'],
      problem: "--http-port 2380 is also etcd's peer port (the --etcd port + 1): pass another --http-port",
    },
    {
      args: ['--base-port', '8100', '--grpc-port', '8102'],
      problem: "--grpc-port 8102 is also node n3's (from --base-port 8100): pass another --grpc-port",
    },
    {
      args: ['--http-port', '9000', '--grpc-port', '9000'],
      problem: "--grpc-port 9000 is also --http-port's: pass another --grpc-port",
    },
  ];

  for (const { args, context, problem } of cases)
    it(`${args.join(' ') || '(no flags)'}${context ? ` ${JSON.stringify(context)}` : ''}: ${problem}`, async () => {
      const problems = await problemsOf(args, context);
      expect(
        problems.some((p) => p.includes(problem)),
        problems.join('\n'),
      ).toBe(true);
    });

  it('every problem at once, not the first only', async () => {
    const problems = await problemsOf([
      '--nodes',
      '0',
      '--etcd',
      'nowhere',
      '--speed=-1',
      '--no-restart',
      '--max-node-restarts',
      '1',
    ]);
    expect(problems).toEqual([
      '--nodes must be an integer from 1 to 9, not "0"',
      '--etcd must be host:port (e.g. 127.0.0.1:2379), not "nowhere"',
      '--no-restart and --max-node-restarts contradict each other: pass one of them',
      expect.stringContaining('--speed must be a number above 0'),
    ]);
  });

  it('an unknown flag or a flag without its value is a usage error naming it', () => {
    expect(() => parseUpArgs(['--metric', '127.0.0.1:9464'])).toThrow(UsageError);
    expect(() => parseUpArgs(['--metric', '127.0.0.1:9464'])).toThrow(/'--metric'.*meterfabric up --help/);
    expect(() => parseUpArgs(['--nodes'])).toThrow(/--nodes/);
    // A value starting with a dash needs --flag=value (node:util says so).
    expect(() => parseUpArgs(['--speed', '-1'])).toThrow(/--speed=-XYZ/);
  });
});

describe('up plan: where up may start etcd itself (no etcd answering at --etcd)', () => {
  const etcdOf = async (endpoint: string) => (await plan(['--etcd', endpoint, '--no-demo'])).etcd;

  it('on loopback it may', async () => {
    expect(etcdStartProblems(await etcdOf('127.0.0.1:2379'))).toEqual([]);
    expect(etcdStartProblems(await etcdOf('localhost:2379'))).toEqual([]);
  });

  it('elsewhere it may not: point --etcd at a running etcd or at 127.0.0.1', async () => {
    expect(etcdStartProblems(await etcdOf('10.1.2.3:2379'))).toEqual([
      'no etcd answers at --etcd 10.1.2.3:2379, and up starts etcd only on loopback (127.0.0.1): point --etcd at a running etcd, or pass --etcd 127.0.0.1:<port>',
    ]);
  });

  it('nor with its peer port past 65535', async () => {
    expect(etcdStartProblems(await etcdOf('127.0.0.1:65535'))[0]).toContain('65536 is not a port');
  });
});

describe('`up` with a flag error', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 2 with the error on stderr, having created nothing (a usage error too)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-up-plan-'));
    dirs.push(dir);
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    const data = join(dir, 'data');
    expect(await run(['--data', data, '--etcd', '127.0.0.1:1', '--nodes', '0', '--no-demo'])).toBe(2);
    expect(stderr.join('')).toBe(
      'meterfabric up: invalid configuration:\n  - --nodes must be an integer from 1 to 9, not "0" [MF_CONFIG_INVALID]\n',
    );
    expect(await run(['--data', data, '--bogus'])).toBe(2);
    expect(stderr.join('')).toContain("Unknown option '--bogus'");
    expect(stderr.join('')).toContain('[MF_USAGE]');
    expect(existsSync(data)).toBe(false);
  });
});
