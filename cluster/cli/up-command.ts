import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoDayFlags } from '../../actors/demo/day-flags.js';
import {
  type IntegrationMetrics,
  startIntegrationMetrics,
} from '../../actors/integration/bridge/metrics-endpoint.js';
import type { IntegrationBridgeSettings } from '../../actors/integration/bridge/serve.js';
import type { WebhookSubscriberConfig } from '../../actors/integration/webhook-config.js';
import { systemClock } from '../../core/clock.js';
import { ConfigError, MeterfabricError, UsageError } from '../../core/errors.js';
import { makeDirectorySync } from '../../core/fs/make-directory.js';
import { createLogger } from '../../core/logger.js';
import { distPath } from '../../core/paths.js';
import { etcdHealthy, startEtcd } from '../etcd/launcher.js';
import { SupervisedNode } from './node-supervisor.js';
import { defaultRestartPolicy, RestartPolicy } from './restart-policy.js';
import { StartedStack } from './started-stack.js';
import { collectStatus } from './status-command.js';
import { etcdBindHost, etcdStartProblems, parseUpArgs, planUp, type UpPlan } from './up-plan.js';
import { checkEtcdPorts, checkHostedPorts, chooseBasePort } from './up-ports.js';

const usage = `usage: meterfabric up [--data ./data] [--etcd 127.0.0.1:2379] [--nodes 3] [--base-port N] [--no-demo]
  [--max-wait-seconds 300] [--max-node-restarts 5 | --no-restart]
  [--load-profile-every-minutes 60] [--speed 1440]
  [--http-port N] [--grpc-port N] [--bridge-host 127.0.0.1] [--token-file F]
  [--tls-cert F --tls-key F [--tls-client-ca F] [--tls-allowed-clients cn,cn]]
  [--webhook-config hooks.json] [--metrics 127.0.0.1:9464] [--max-subscriber-buffered-mib 32]
  [--max-subscribers 16]
Starts etcd on loopback (data under <data>/etcd) unless one answers at --etcd, then the nodes
(logs in <data>/<id>.log), and shows progress. Ctrl-C stops everything it started.
Every flag is checked before anything starts: a wrong one (or two that contradict) is an
error naming it, and \`up\` exits 2 having started nothing.
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
--max-subscribers (1..256, default 16) bounds the SubscribeEvents streams served at once; one
more is refused with RESOURCE_EXHAUSTED (MF_TOO_MANY_SUBSCRIBERS).
--load-profile-every-minutes sets the demo's load profile collection period (minutes dividing
1440; 360 collects six hours of intervals per job); --speed how many simulated seconds pass
per second (1440: the day in about a minute; the day is never rushed past what the machine does).
A flag that would do nothing is refused before anything starts: the token, TLS and
--bridge-host flags without --http-port or --grpc-port, --max-subscriber-buffered-mib and
--max-subscribers without --grpc-port, and with --no-demo the bridge, webhook, metrics and day
flags.
`;

/** Optional hook of the head-end (actors/demo/up.js): starts the field fleet once the cluster is healthy. */
type DemoHook = {
  /** Service manifests the nodes load (the demo's services beside the runtime's). */
  manifests?: string[];
  /** What is wrong with the MF_DEMO_* variables the head-end reads; `up` refuses them before it starts. */
  envProblems?: (env: Readonly<Record<string, string | undefined>>) => string[];
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
  // Step one, nothing started yet: the flags into a plan (up-plan.ts), then the machine's state
  // the plan depends on (is etcd answering, which ports are free). A flag or config error
  // (exit 2) or a taken port (MF_PORT_IN_USE, exit 1) ends `up` here, with nothing to stop.
  let plan: UpPlan;
  let hook: DemoHook | null;
  let ports: { etcdRunning: boolean; basePort: number; note?: string };
  try {
    const values = parseUpArgs(argv);
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    hook = values['no-demo'] ? null : await loadDemoHook();
    plan = await planUp(values, {
      env: process.env,
      hook,
      cwd: process.cwd(),
      logger: createLogger({ component: 'up' }),
    });
    if (!plan.demo) hook = null;
    ports = await checkMachine(plan);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ConfigError)) throw err;
    process.stderr.write(`meterfabric up: ${err.message} [${err.code}]\n`);
    return 2;
  }
  return startPlan(plan, hook, ports);
}

/** What the plan needs of this machine, probed (binds nothing that stays bound). */
async function checkMachine(
  plan: UpPlan,
): Promise<{ etcdRunning: boolean; basePort: number; note?: string }> {
  const { etcd } = plan;
  try {
    makeDirectorySync(plan.dataDir);
  } catch (err) {
    throw new ConfigError([
      `--data ${plan.dataDir}: cannot create it (${(err as Error).message}); pass a directory you can write`,
    ]);
  }
  const etcdRunning = await etcdHealthy(etcd.endpoint);
  if (!etcdRunning) {
    const problems = etcdStartProblems(etcd);
    if (problems.length > 0) throw new ConfigError(problems);
    await checkEtcdPorts(etcd.endpoint, etcd.clientPort, etcdBindHost(etcd.host));
  }
  const reserved = new Set([etcd.clientPort, ...(etcdRunning ? [] : [etcd.peerPort])]);
  for (const { port } of plan.hostedPorts) if (port !== 0) reserved.add(port);
  const chosen = await chooseBasePort({
    ...(plan.requestedBasePort !== undefined ? { requested: plan.requestedBasePort } : {}),
    count: plan.nodeIds.length,
    reserved,
  });
  await checkHostedPorts(plan.hostedPorts);
  return { etcdRunning, ...chosen };
}

/**
 * Step two: start what the plan says, each start recorded in one StartedStack; every way out
 * (a start that failed, the cluster not healthy in time, a failed day, Ctrl-C, SIGTERM) stops
 * it, last started first. Exit 0 after Ctrl-C / SIGTERM, 1 after a failure.
 */
async function startPlan(
  plan: UpPlan,
  hook: DemoHook | null,
  ports: { etcdRunning: boolean; basePort: number; note?: string },
): Promise<number> {
  const say = (line: string): void => void process.stdout.write(`[up] ${line}\n`);
  const warn = (line: string): void => void process.stderr.write(`[up] ${line}\n`);
  const { etcd, dataDir, nodeIds: ids, maxWaitSeconds } = plan;
  const endpoint = etcd.endpoint;
  const maxWaitMs = maxWaitSeconds * 1000;
  const { basePort } = ports;
  const stack = new StartedStack({
    say,
    warn,
    stoppingLine: (layer) =>
      layer === 'nodes' ? 'stopping nodes (they drain first)...' : `stopping ${layer}`,
  });
  const supervised: SupervisedNode[] = [];
  const abort = new AbortController();
  // Synchronous, first thing on every way out (signal, failure): a node that exits from then on
  // (Ctrl-C reaches the nodes too) is expected and must not be restarted.
  const halt = (): void => {
    for (const node of supervised) node.halt();
  };
  // Set when `up` must end on its own with an error (the cluster never became healthy within
  // the bound, or the demo failed): it then stops everything and exits 1.
  let failure: string | undefined;
  let interrupted = false;
  let end: () => void = () => undefined;
  const ended = new Promise<void>((done) => {
    end = done;
  });
  const over = (): boolean => interrupted || failure !== undefined;
  const interrupt = (): void => {
    interrupted = true;
    halt();
    end();
  };
  const fail = (message: string): void => {
    halt();
    failure ??= message;
    end();
  };
  // Installed before the first start: a signal while etcd starts must stop it, not orphan it.
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const lastResort = (): void => stack.killRemaining();
  process.on('exit', lastResort);

  try {
    if (ports.note) say(ports.note);
    if (ports.etcdRunning) {
      say(`using the etcd already answering at ${endpoint}`);
    } else {
      say(`starting etcd at ${endpoint} (data in ${join(dataDir, 'etcd')})`);
      const started = await startEtcd({
        dataDir: join(dataDir, 'etcd'),
        host: etcdBindHost(etcd.host) ?? '127.0.0.1',
        clientPort: etcd.clientPort,
        peerPort: etcd.peerPort,
      });
      stack.add('etcd', { name: 'etcd', pid: () => started.pid, stop: () => started.stop() });
      say(`etcd up (pid ${started.pid})`);
    }

    const status = () => collectStatus([endpoint], 'meterfabric');
    const targetReplicas = (service: string) => plan.replicaTargets.get(service);
    for (const [i, id] of ids.entries()) {
      if (over()) break;
      const logPath = join(dataDir, `${id}.log`);
      const node = new SupervisedNode({
        id,
        host: '127.0.0.1',
        port: basePort + i,
        dataDir: join(dataDir, id),
        logPath,
        etcd: endpoint,
        env: { ...plan.nodeEnv },
        policy: new RestartPolicy(
          { ...defaultRestartPolicy, maxRestarts: plan.maxNodeRestarts },
          systemClock,
        ),
        say,
        warn,
        readyTimeoutMs: maxWaitMs,
        status,
        targetReplicas,
        catchUpTimeoutMs: maxWaitMs,
      });
      supervised.push(node);
      stack.add('nodes', { name: `node ${id}`, pid: () => node.pid, stop: () => node.stop() });
      const pid = node.start();
      say(`started node ${id} on 127.0.0.1:${basePort + i} (pid ${pid}, log ${logPath})`);
    }

    let healthy = false;
    let lastLine = '';
    const healthDeadline = Date.now() + maxWaitMs;
    while (!healthy && !over()) {
      if (Date.now() > healthDeadline) {
        fail(
          `the cluster did not become healthy within ${maxWaitSeconds} s (last: ${lastLine || 'no status from etcd'}); see the node logs in ${dataDir}`,
        );
        break;
      }
      const report = await status().catch(() => null);
      if (report) {
        const ok = report.partitions.filter((p) => p.health === 'OK').length;
        const line = `${report.nodes.length}/${ids.length} nodes up, ${ok}/${report.partitions.length} partitions OK, failover manager ${report.failoverManager ?? '(electing)'}`;
        if (line !== lastLine) say(line);
        lastLine = line;
        healthy =
          report.health === 'OK' && report.nodes.length === ids.length && report.partitions.length > 0;
      }
      if (!healthy) await Promise.race([new Promise((r) => setTimeout(r, 500)), ended]);
    }
    if (healthy && !over()) {
      say('cluster healthy. `node bin/meterfabric.js status` shows it; Ctrl-C stops everything.');
      if (hook) await startDemo(plan, hook, { stack, say, signal: abort.signal, fail, maxWaitMs });
    }
    await ended;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    halt();
    abort.abort();
    if (failure !== undefined) warn(failure);
    await stack.stopAll();
    say('stopped');
    process.off('exit', lastResort);
  }
  return failure === undefined ? 0 : 1;
}

/** The head-end demo day, in the background: its metrics endpoint is recorded in `stack`. */
async function startDemo(
  plan: UpPlan,
  hook: DemoHook,
  run: {
    stack: StartedStack;
    say: (line: string) => void;
    signal: AbortSignal;
    fail: (message: string) => void;
    maxWaitMs: number;
  },
): Promise<void> {
  const { integration } = plan;
  run.say('starting the head-end demo (actors/demo): one simulated day of the field fleet');
  let metrics: IntegrationMetrics | undefined;
  if (integration.metricsListen) {
    metrics = await startIntegrationMetrics(integration.metricsListen);
    const started = metrics;
    run.stack.add('the integration metrics endpoint', {
      name: 'the integration metrics endpoint',
      stop: () => started.close(),
    });
    run.say(`integration metrics at http://${metrics.address}/metrics`);
  }
  void hook
    .up({
      etcd: plan.etcd.endpoint,
      nodes: [...plan.nodeIds],
      signal: run.signal,
      say: run.say,
      integration: {
        ...(integration.bridges ? { bridges: integration.bridges } : {}),
        ...(integration.webhooks ? { webhooks: integration.webhooks } : {}),
        ...(metrics ? { metrics: metrics.registry } : {}),
      },
      day: plan.day,
      maxWaitMs: run.maxWaitMs,
    })
    .catch((err: unknown) => {
      if (!run.signal.aborted)
        run.fail(`demo failed: ${err instanceof Error ? `${err.message}${codeOf(err)}` : String(err)}`);
    });
}

const codeOf = (err: Error): string => (err instanceof MeterfabricError ? ` [${err.code}]` : '');
