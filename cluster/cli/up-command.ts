import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type DemoDayFlags, demoDayFlags, readDemoDayFlags } from '../../actors/demo/day-flags.js';
import {
  type IntegrationBridgeSettings,
  integrationHostFlags,
  readIntegrationHostFlags,
} from '../../actors/integration/bridge/host-flags.js';
import {
  type IntegrationMetrics,
  startIntegrationMetrics,
} from '../../actors/integration/bridge/metrics-endpoint.js';
import type { WebhookSubscriberConfig } from '../../actors/integration/webhook-config.js';
import { systemClock } from '../../core/clock.js';
import { ConfigError, MeterfabricError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { distPath } from '../../core/paths.js';
import { defaultManifestPaths, loadManifests } from '../config/manifest.js';
import { type EtcdHandle, etcdHealthy, startEtcd } from '../etcd/launcher.js';
import { SupervisedNode } from './node-supervisor.js';
import { defaultRestartPolicy, maxRestartsLimit, RestartPolicy } from './restart-policy.js';
import { collectStatus } from './status-command.js';
import { checkEtcdPorts, chooseBasePort } from './up-ports.js';

const usage = `usage: meterfabric up [--data ./data] [--etcd 127.0.0.1:2379] [--nodes 3] [--base-port N] [--no-demo]
  [--max-wait-seconds 300] [--max-node-restarts 5 | --no-restart]
  [--load-profile-every-minutes 60] [--speed 1440]
  [--http-port N] [--grpc-port N] [--bridge-host 127.0.0.1] [--token-file F]
  [--tls-cert F --tls-key F [--tls-client-ca F] [--tls-allowed-clients cn,cn]]
  [--webhook-config hooks.json] [--metrics 127.0.0.1:9464] [--max-subscriber-buffered-mib 32]
Starts etcd on loopback (data under <data>/etcd) unless one answers at --etcd, then the nodes
(logs in <data>/<id>.log), and shows progress. Ctrl-C stops everything it started.
Ports: without --base-port the nodes take the first free run of ports from 7101 (printed);
with it, a port in use is an error naming the port and a free --base-port to pass. etcd's
client and peer ports (the --etcd port and the next) in use, with no etcd answering: an error.
--max-wait-seconds bounds every wait for the cluster: for it to become healthy at start, and
for the demo day to ride out an outage (a node or etcd briefly away, quorum loss: it waits,
showing progress, and carries on). Past the bound, or if the demo fails, \`up\` says why,
stops everything and exits 1.
A node process that exits on its own (crash, OOM, kill -9) is restarted with the same id,
port and data (after 0.5 s, doubling to 8 s), at most --max-node-restarts times (default 5,
up to 100) in 10 minutes; past that it stays down, and \`up\` says so, naming its log, and
carries on with the other nodes. --no-restart leaves exited nodes down (to watch failover).
A restarted node is reported back when it registers, and caught up once every replica placed
on it is in sync; not caught up within --max-wait-seconds, it is left running and \`up\` says
on stderr what it still misses.
This process drives the head-end and writes its outputs, so it is the integration host: with
--http-port/--grpc-port it serves the CIM bridge and gRPC API (callers authenticated by the
bearer token from --token-file or MF_BRIDGE_TOKEN, and/or mTLS), --webhook-config pushes the
CIM messages to receivers (queues under <out>/.webhook-state), --metrics serves their metrics.
--max-subscriber-buffered-mib (1..1024, default 32) bounds what one SubscribeEvents stream keeps
for a client that reads slowly: further behind, it is caught up from <out>/cim/ when it reads.
--load-profile-every-minutes sets the demo's load profile collection period (minutes dividing
1440; 360 collects six hours of intervals per job); --speed how many simulated seconds pass
per second (1440: the day in about a minute; the day is never rushed past what the machine does).
`;

/** Optional hook of the head-end (actors/demo/up.js): starts the field fleet once the cluster is healthy. */
type DemoHook = {
  /** Service manifests the nodes load (the demo's services beside the runtime's). */
  manifests?: string[];
  up(ctx: {
    etcd: string;
    nodes: string[];
    signal: AbortSignal;
    say: (line: string) => void;
    integration?: {
      bridges?: IntegrationBridgeSettings;
      webhooks?: readonly WebhookSubscriberConfig[];
      metrics?: IntegrationMetrics['registry'];
    };
    day?: DemoDayFlags;
    maxWaitMs?: number;
  }): Promise<void>;
};

async function loadDemoHook(): Promise<DemoHook | null> {
  const hookPath = distPath('actors', 'demo', 'up.js');
  if (!existsSync(hookPath)) return null;
  const hook = (await import(hookPath)) as Partial<DemoHook>;
  return typeof hook.up === 'function' ? (hook as DemoHook) : null;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
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
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const dataDir = resolve(values.data);
  const nodeCount = Number(values.nodes);
  const requestedBase = values['base-port'] === undefined ? undefined : Number(values['base-port']);
  const maxWaitSeconds = Number(values['max-wait-seconds']);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 9) {
    throw new MeterfabricError('MF_CONFIG_INVALID', '--nodes must be an integer from 1 to 9');
  }
  if (
    requestedBase !== undefined &&
    (!Number.isInteger(requestedBase) || requestedBase < 1024 || requestedBase > 65000)
  ) {
    throw new MeterfabricError('MF_CONFIG_INVALID', '--base-port must be an integer from 1024 to 65000');
  }
  if (!Number.isFinite(maxWaitSeconds) || maxWaitSeconds < 1 || maxWaitSeconds > 86_400) {
    throw new MeterfabricError('MF_CONFIG_INVALID', '--max-wait-seconds must be a number from 1 to 86400');
  }
  const maxWaitMs = maxWaitSeconds * 1000;
  const maxNodeRestarts = readMaxNodeRestarts(values['max-node-restarts'], values['no-restart']);
  // Validated before anything starts: a wrong flag must not leave etcd or nodes behind.
  const integration = await readIntegrationHostFlags(values, {
    logger: createLogger({ component: 'up' }),
  });
  const day = readDemoDayFlags(values);
  const hosting = integration.bridges || integration.webhooks || integration.metricsListen;
  if (hosting && values['no-demo'])
    throw new ConfigError([
      'the bridge, webhook and metrics flags need the head-end this process drives: drop --no-demo',
    ]);
  mkdirSync(dataDir, { recursive: true });
  const say = (line: string): void => void process.stdout.write(`[up] ${line}\n`);

  let etcd: EtcdHandle | null = null;
  const endpoint = values.etcd;
  const etcdPort = Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
  const etcdRunning = await etcdHealthy(endpoint);
  // Every port checked before anything starts: a taken one is an error naming it and the flag.
  if (!etcdRunning) await checkEtcdPorts(endpoint, etcdPort);
  const chosen = await chooseBasePort({
    ...(requestedBase !== undefined ? { requested: requestedBase } : {}),
    count: nodeCount,
    reserved: etcdRunning ? new Set([etcdPort]) : new Set([etcdPort, etcdPort + 1]),
  });
  const basePort = chosen.basePort;
  if (chosen.note) say(chosen.note);
  if (etcdRunning) {
    say(`using the etcd already answering at ${endpoint}`);
  } else {
    const port = etcdPort;
    say(`starting etcd at ${endpoint} (data in ${join(dataDir, 'etcd')})`);
    etcd = await startEtcd({ dataDir: join(dataDir, 'etcd'), clientPort: port, peerPort: port + 1 });
    say(`etcd up (pid ${etcd.pid})`);
  }

  const supervised: SupervisedNode[] = [];
  const ids = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const abort = new AbortController();
  let stopping = false;
  // Synchronous, first thing on every way out (signal, failure): a node that exits from then on
  // (Ctrl-C reaches the nodes too) is expected and must not be restarted.
  const halt = (): void => {
    for (const node of supervised) node.halt();
  };
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    halt();
    abort.abort();
    say('stopping nodes (they drain first)...');
    await Promise.all(supervised.map((node) => node.stop()));
    if (etcd) {
      say('stopping etcd');
      await etcd.stop();
    }
    say('stopped');
  };
  const interrupted = new Promise<void>((done) => {
    const interrupt = (): void => {
      halt();
      done();
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
  });
  // Set when `up` must end on its own with an error (the cluster never became healthy within
  // the bound, or the demo failed): it then stops everything and exits 1.
  let failure: string | undefined;
  let failed: () => void = () => undefined;
  const failedOut = new Promise<void>((done) => {
    failed = done;
  });
  const fail = (message: string): void => {
    halt();
    failure ??= message;
    failed();
  };

  // --no-demo starts the bare cluster; otherwise the head-end's demo hook decides which
  // services the nodes host (an explicit MF_MANIFESTS wins).
  const hook = values['no-demo'] ? null : await loadDemoHook();
  if (hosting && !hook)
    throw new ConfigError([
      'the bridge, webhook and metrics flags need the head-end (dist/actors/demo/up.js)',
    ]);
  let metrics: IntegrationMetrics | undefined;
  const nodeEnv: Record<string, string> =
    hook?.manifests && !process.env.MF_MANIFESTS ? { MF_MANIFESTS: hook.manifests.join(',') } : {};
  const warn = (line: string): void => void process.stderr.write(`[up] ${line}\n`);

  try {
    const targetReplicas = replicaTargets({ ...process.env, ...nodeEnv });
    const status = () => collectStatus([endpoint], 'meterfabric');
    for (const [i, id] of ids.entries()) {
      const logPath = join(dataDir, `${id}.log`);
      const node = new SupervisedNode({
        id,
        host: '127.0.0.1',
        port: basePort + i,
        dataDir: join(dataDir, id),
        logPath,
        etcd: endpoint,
        env: nodeEnv,
        policy: new RestartPolicy({ ...defaultRestartPolicy, maxRestarts: maxNodeRestarts }, systemClock),
        say,
        warn,
        readyTimeoutMs: maxWaitMs,
        status,
        targetReplicas,
        catchUpTimeoutMs: maxWaitMs,
      });
      supervised.push(node);
      const pid = node.start();
      say(`started node ${id} on 127.0.0.1:${basePort + i} (pid ${pid}, log ${logPath})`);
    }

    let healthy = false;
    let lastLine = '';
    const healthDeadline = Date.now() + maxWaitMs;
    while (!healthy && !stopping && failure === undefined) {
      if (Date.now() > healthDeadline) {
        fail(
          `the cluster did not become healthy within ${maxWaitSeconds} s (last: ${lastLine || 'no status from etcd'}); see the node logs in ${dataDir}`,
        );
        break;
      }
      const report = await collectStatus([endpoint], 'meterfabric').catch(() => null);
      if (report) {
        const ok = report.partitions.filter((p) => p.health === 'OK').length;
        const line = `${report.nodes.length}/${nodeCount} nodes up, ${ok}/${report.partitions.length} partitions OK, failover manager ${report.failoverManager ?? '(electing)'}`;
        if (line !== lastLine) say(line);
        lastLine = line;
        healthy = report.health === 'OK' && report.nodes.length === nodeCount && report.partitions.length > 0;
      }
      if (!healthy) await Promise.race([new Promise((r) => setTimeout(r, 500)), interrupted, failedOut]);
    }
    if (healthy) {
      say('cluster healthy. `node bin/meterfabric.js status` shows it; Ctrl-C stops everything.');
      if (hook) {
        say('starting the head-end demo (actors/demo): one simulated day of the field fleet');
        if (integration.metricsListen) {
          metrics = await startIntegrationMetrics(integration.metricsListen);
          say(`integration metrics at http://${metrics.address}/metrics`);
        }
        void hook
          .up({
            etcd: endpoint,
            nodes: ids,
            signal: abort.signal,
            say,
            integration: {
              ...(integration.bridges ? { bridges: integration.bridges } : {}),
              ...(integration.webhooks ? { webhooks: integration.webhooks } : {}),
              ...(metrics ? { metrics: metrics.registry } : {}),
            },
            day,
            maxWaitMs,
          })
          .catch((err: unknown) => {
            if (!abort.signal.aborted)
              fail(`demo failed: ${err instanceof Error ? `${err.message}${codeOf(err)}` : String(err)}`);
          });
      }
    }
    await Promise.race([interrupted, failedOut]);
  } finally {
    if (failure !== undefined) process.stderr.write(`[up] ${failure}\n`);
    await stopAll();
    await metrics?.close();
  }
  return failure === undefined ? 0 : 1;
}

/**
 * The target replica count of each service, from the manifests the nodes load (MF_MANIFESTS
 * as they read it, else the defaults): where placement puts a restarted node's replicas.
 */
function replicaTargets(env: Record<string, string | undefined>): (service: string) => number | undefined {
  const listed = (env.MF_MANIFESTS ?? '')
    .split(',')
    .map((path) => path.trim())
    .filter(Boolean);
  const services = loadManifests(listed.length > 0 ? listed : defaultManifestPaths());
  const targets = new Map(services.map((service) => [service.name, service.replicas]));
  return (service) => targets.get(service);
}

/** `--max-node-restarts` (default 5 in 10 min), or 0 with `--no-restart`; checked before anything starts. */
function readMaxNodeRestarts(text: string | undefined, noRestart: boolean | undefined): number {
  if (noRestart) {
    if (text !== undefined)
      throw new ConfigError(['--no-restart and --max-node-restarts contradict each other: pass one of them']);
    return 0;
  }
  if (text === undefined) return defaultRestartPolicy.maxRestarts;
  const count = Number(text);
  if (!/^\d+$/.test(text) || count > maxRestartsLimit)
    throw new ConfigError([
      `--max-node-restarts must be an integer from 0 to ${maxRestartsLimit} (restarts of one node within 10 min; 0 or --no-restart never restarts), not "${text}"`,
    ]);
  return count;
}

const codeOf = (err: Error): string => (err instanceof MeterfabricError ? ` [${err.code}]` : '');
