import { resolve } from 'node:path';
import {
  type DemoDayFlags,
  demoDayFlags,
  givenDemoDayFlags,
  readDemoDayFlags,
} from '../../actors/demo/day-flags.js';
import {
  type IntegrationHostFlagValues,
  type IntegrationHostSettings,
  integrationHostFlags,
  readIntegrationHostFlags,
} from '../../actors/integration/bridge/host-flags.js';
import { numberFlagProblem, parseCommandLine } from '../../core/command-line.js';
import { ConfigError, invariant } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { defaultManifestPaths, loadManifests } from '../config/manifest.js';
import { defaultRestartPolicy, maxRestartsLimit } from './restart-policy.js';

/**
 * `meterfabric up`, step one: every flag, their combinations and the manifests the nodes will
 * load, read into a typed plan before anything is started. A typo must not cost a started
 * etcd (left bound to its port, or joined with stale data by the next `up`): the driver
 * (up-command.ts) starts nothing until planUp has returned. Reads the files the flags name
 * (token, TLS, webhook config, manifests) but starts, binds and spawns nothing.
 */

export const upOptions = {
  data: { type: 'string', default: './data' },
  etcd: { type: 'string', default: '127.0.0.1:2379' },
  nodes: { type: 'string', default: '3' },
  'base-port': { type: 'string' },
  'max-wait-seconds': { type: 'string', default: '300' },
  'no-demo': { type: 'boolean', default: false },
  'max-node-restarts': { type: 'string' },
  'no-restart': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
  ...integrationHostFlags,
  ...demoDayFlags,
} as const;

export type UpFlagValues = IntegrationHostFlagValues & {
  data: string;
  etcd: string;
  nodes: string;
  'base-port'?: string | undefined;
  'max-wait-seconds': string;
  'no-demo': boolean;
  'max-node-restarts'?: string | undefined;
  'no-restart': boolean;
  help?: boolean | undefined;
  'load-profile-every-minutes'?: string | undefined;
  speed?: string | undefined;
};

/** The flags as given; an unknown flag, a missing value or a stray argument is a UsageError. */
export function parseUpArgs(argv: readonly string[]): UpFlagValues {
  const { values } = parseCommandLine('up', { args: [...argv], options: upOptions, strict: true });
  return values as UpFlagValues;
}

export const maxNodes = 9;

/**
 * An address `up` binds for what its flags ask (a bridge, the metrics endpoint), port 0: any
 * free one (its address is still checked).
 */
export type HostedPort = { flag: '--http-port' | '--grpc-port' | '--metrics'; host: string; port: number };

export type UpPlan = {
  dataDir: string;
  etcd: { endpoint: string; host: string; clientPort: number; peerPort: number };
  /** n1..nN, ports basePort + i. */
  nodeIds: readonly string[];
  /** --base-port; absent: the first free run from 7101 (up-ports.ts). */
  requestedBasePort?: number;
  maxWaitSeconds: number;
  maxNodeRestarts: number;
  /** Whether the head-end demo runs once the cluster is healthy (a hook was given and no --no-demo). */
  demo: boolean;
  integration: IntegrationHostSettings;
  /** What the integration flags bind, checked bindable before anything starts. */
  hostedPorts: readonly HostedPort[];
  day: DemoDayFlags;
  /** Extra environment of the node processes (the demo's manifests, unless MF_MANIFESTS is set). */
  nodeEnv: Readonly<Record<string, string>>;
  /** Target replica count per service, from the manifests the nodes load (catch-up.ts). */
  replicaTargets: ReadonlyMap<string, number>;
};

export type UpPlanContext = {
  env: Readonly<Record<string, string | undefined>>;
  /** The head-end demo hook (dist/actors/demo/up.js), null when absent or not loaded (--no-demo). */
  hook: {
    manifests?: readonly string[];
    /** What is wrong with the environment the head-end reads (its MF_DEMO_* variables). */
    envProblems?: (env: Readonly<Record<string, string | undefined>>) => readonly string[];
  } | null;
  /** Where --data is resolved from. */
  cwd: string;
  logger?: Logger;
};

/**
 * The plan, or a ConfigError listing every problem (each naming its flag and what to pass).
 * Every check `up` makes on its flags is here, so none can come after a start.
 */
export async function planUp(values: UpFlagValues, context: UpPlanContext): Promise<UpPlan> {
  const problems: string[] = [];
  const collect = async <T>(read: () => T | Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...(err.details.problems as string[]));
      return undefined;
    }
  };

  const check = (problem: string | undefined): void => {
    if (problem !== undefined) problems.push(problem);
  };
  const nodeCount = Number(values.nodes);
  check(numberFlagProblem('--nodes', values.nodes, { min: 1, max: maxNodes }));
  const baseText = values['base-port'];
  const requestedBasePort = baseText === undefined ? undefined : Number(baseText);
  if (baseText !== undefined)
    check(
      numberFlagProblem('--base-port', baseText, {
        min: 1024,
        max: 65_000,
        meaning: 'or leave it out and up picks free ports',
      }),
    );
  const maxWaitSeconds = Number(values['max-wait-seconds']);
  check(
    numberFlagProblem('--max-wait-seconds', values['max-wait-seconds'], {
      integer: false,
      min: 1,
      max: 86_400,
    }),
  );
  const etcd = readEtcdEndpoint(values.etcd, problems);
  const maxNodeRestarts = await collect(() =>
    readMaxNodeRestarts(values['max-node-restarts'], values['no-restart']),
  );
  const integration = await collect(() =>
    readIntegrationHostFlags(values, {
      env: context.env,
      ...(context.logger ? { logger: context.logger } : {}),
    }),
  );
  const day = await collect(() => readDemoDayFlags(values));

  const hosting = Boolean(integration?.bridges || integration?.webhooks || integration?.metricsListen);
  // The day flags act only through the demo's head-end: with --no-demo they would do nothing.
  const dayFlagsGiven = givenDemoDayFlags(values);
  if (values['no-demo']) {
    if (hosting)
      problems.push(
        'the bridge, webhook and metrics flags need the head-end this process drives: drop --no-demo',
      );
    for (const flag of dayFlagsGiven)
      problems.push(`${flag} configures the demo day, which --no-demo does not run: drop one of them`);
  } else if ((hosting || dayFlagsGiven.length > 0) && !context.hook) {
    const needing = [...(hosting ? ['the bridge, webhook and metrics flags'] : []), ...dayFlagsGiven];
    problems.push(
      `${needing.join(', ')} ${needing.length === 1 && !hosting ? 'needs' : 'need'} the head-end (dist/actors/demo/up.js): run \`npm run build\`, or drop ${needing.length === 1 && !hosting ? 'it' : 'those flags'}`,
    );
  }
  const hook = values['no-demo'] ? null : context.hook;
  // The head-end reads its MF_DEMO_* sizes once the cluster is up: refused now, not then.
  if (hook?.envProblems) problems.push(...hook.envProblems(context.env));
  const nodeEnv: Record<string, string> =
    hook?.manifests && !context.env.MF_MANIFESTS ? { MF_MANIFESTS: hook.manifests.join(',') } : {};
  const replicaTargets = await collect(() => readReplicaTargets({ ...context.env, ...nodeEnv }));

  const hostedPorts = integration ? hostedPortsOf(integration) : [];
  if (etcd && nodeCount >= 1) checkPortClashes(hostedPorts, etcd, requestedBasePort, nodeCount, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  invariant(
    etcd && maxNodeRestarts !== undefined && integration && day && replicaTargets,
    'every part of the up plan is read when no problem was found',
  );
  return {
    dataDir: resolve(context.cwd, values.data),
    etcd,
    nodeIds: Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`),
    ...(requestedBasePort !== undefined ? { requestedBasePort } : {}),
    maxWaitSeconds,
    maxNodeRestarts,
    demo: hook !== null,
    integration,
    hostedPorts,
    day,
    nodeEnv,
    replicaTargets,
  };
}

/**
 * Why `up` cannot start etcd itself at the planned endpoint, once none answered there: it
 * starts one only on this machine's loopback, and needs the next port for etcd's peer.
 */
export function etcdStartProblems(etcd: UpPlan['etcd']): string[] {
  const problems: string[] = [];
  if (etcdBindHost(etcd.host) === undefined)
    problems.push(
      `no etcd answers at --etcd ${etcd.endpoint}, and up starts etcd only on loopback (127.0.0.1): point --etcd at a running etcd, or pass --etcd 127.0.0.1:<port>`,
    );
  if (etcd.peerPort > 65_535)
    problems.push(
      `--etcd ${etcd.endpoint}: up starts etcd with its peer on the next port, and ${etcd.peerPort} is not a port; pass a lower one`,
    );
  return problems;
}

function readEtcdEndpoint(endpoint: string, problems: string[]): UpPlan['etcd'] | undefined {
  const match = /^([^\s:]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/.exec(endpoint);
  const clientPort = Number(match?.[2]);
  if (!match?.[1] || clientPort < 1 || clientPort > 65_535) {
    problems.push(`--etcd must be host:port (e.g. 127.0.0.1:2379), not "${endpoint}"`);
    return undefined;
  }
  return { endpoint, host: match[1], clientPort, peerPort: clientPort + 1 };
}

/** `--max-node-restarts` (default 5 in 10 min), or 0 with `--no-restart`. */
function readMaxNodeRestarts(text: string | undefined, noRestart: boolean | undefined): number {
  if (noRestart) {
    if (text !== undefined)
      throw new ConfigError(['--no-restart and --max-node-restarts contradict each other: pass one of them']);
    return 0;
  }
  if (text === undefined) return defaultRestartPolicy.maxRestarts;
  const problem = numberFlagProblem('--max-node-restarts', text, {
    min: 0,
    max: maxRestartsLimit,
    meaning: 'restarts of one node within 10 min; 0 or --no-restart never restarts',
  });
  if (problem !== undefined) throw new ConfigError([problem]);
  return Number(text);
}

/**
 * The target replica count of each service, from the manifests the nodes load (MF_MANIFESTS
 * as they read it, else the defaults): a manifest the nodes would refuse fails `up` here.
 */
function readReplicaTargets(env: Readonly<Record<string, string | undefined>>): Map<string, number> {
  const listed = (env.MF_MANIFESTS ?? '')
    .split(',')
    .map((path) => path.trim())
    .filter(Boolean);
  try {
    const services = loadManifests(listed.length > 0 ? listed : defaultManifestPaths());
    return new Map(services.map((service) => [service.name, service.replicas]));
  } catch (err) {
    if (!(err instanceof ConfigError) || listed.length === 0) throw err;
    throw new ConfigError(
      (err.details.problems as string[]).map((p) => `${p} (from MF_MANIFESTS: fix the file or unset it)`),
    );
  }
}

function hostedPortsOf(integration: IntegrationHostSettings): HostedPort[] {
  const ports: HostedPort[] = [];
  const bridges = integration.bridges;
  if (bridges) ports.push({ flag: '--http-port', host: bridges.host, port: bridges.httpPort });
  if (bridges) ports.push({ flag: '--grpc-port', host: bridges.host, port: bridges.grpcPort });
  const metrics = integration.metricsListen ? /^(.+):(\d+)$/.exec(integration.metricsListen) : null;
  if (metrics?.[1])
    ports.push({ flag: '--metrics', host: metrics[1].replace(/^\[(.*)\]$/, '$1'), port: Number(metrics[2]) });
  return ports;
}

/** Two flags asking for one port: known from the flags alone, so refused with them. */
function checkPortClashes(
  hosted: readonly HostedPort[],
  etcd: UpPlan['etcd'],
  basePort: number | undefined,
  nodeCount: number,
  problems: string[],
): void {
  const owners = new Map<number, string>([
    [etcd.clientPort, `etcd's client port (from --etcd ${etcd.endpoint})`],
    [etcd.peerPort, `etcd's peer port (the --etcd port + 1)`],
  ]);
  if (basePort !== undefined)
    for (let i = 0; i < nodeCount; i++)
      owners.set(basePort + i, `node n${i + 1}'s (from --base-port ${basePort})`);
  for (const { flag, port } of hosted) {
    if (port === 0) continue;
    const owner = owners.get(port);
    if (owner) problems.push(`${flag} ${port} is also ${owner}: pass another ${flag} (0: any free port)`);
    else owners.set(port, `${flag}'s`);
  }
}

/** The address `up` binds its own etcd to for an --etcd host, if it starts one there (loopback IPv4 only). */
export function etcdBindHost(host: string): string | undefined {
  if (host === 'localhost') return '127.0.0.1';
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ? host : undefined;
}
