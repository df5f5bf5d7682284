import { numberEnvProblem, numberFlagProblem, parseCommandLine } from '../../core/command-line.js';
import { isMeterfabricError } from '../../core/errors.js';
import { leaseTtlMsRange, loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { ClusterNode } from '../node/node.js';
import { formatNodeReport } from '../node/ready-report.js';
import { groupCommitLingerMsRange } from '../replicator/options.js';
import { onShutdownSignal, type ShutdownSignal } from './shutdown-signals.js';

const usage = `usage: meterfabric node --id n1 --listen 127.0.0.1:7101 --data ./data/n1 --etcd 127.0.0.1:2379
  [--config node.json] [--cluster meterfabric] [--advertise host:port] [--metrics 127.0.0.1:0]
  [--lease-ttl-ms 3000] [--manifest services.json ...]
Every flag can also come from the environment (MF_NODE_ID, MF_LISTEN, MF_DATA_DIR, MF_ETCD,
MF_LEASE_TTL_MS, MF_PEER_ADDRESS_OVERRIDES, ...) or the JSON config file; flags win.
SIGTERM/SIGINT drain the node (hand primaries over) and exit; the same signal again 200 ms or
more after the first, or any signal 2 s or more after it, exits at once (a SIGTERM just after
SIGINT, or a repeat within 200 ms, joins the drain).
`;

/** The flags below as the user types them, for the settings they set: a refused value names its flag. */
const flagNames: Partial<Record<keyof NodeConfig, string>> = {
  nodeId: '--id',
  listen: '--listen',
  advertise: '--advertise',
  dataDir: '--data',
  etcd: '--etcd',
  cluster: '--cluster',
  metricsListen: '--metrics',
  leaseTtlMs: '--lease-ttl-ms',
  manifests: '--manifest',
};

/**
 * `meterfabric node`: runs one cluster node until SIGTERM/SIGINT. A flag it cannot read
 * (`UsageError`) or a configuration `loadNodeConfig` refuses (`ConfigError`) is thrown before
 * anything binds: exit 2 (main.ts).
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine('node', {
    args: argv,
    options: {
      id: { type: 'string' },
      listen: { type: 'string' },
      advertise: { type: 'string' },
      data: { type: 'string' },
      etcd: { type: 'string', multiple: true },
      config: { type: 'string' },
      cluster: { type: 'string' },
      metrics: { type: 'string' },
      'lease-ttl-ms': { type: 'string' },
      manifest: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  // Read as digits first: Number() would pass "" as 0 and "abc" as NaN, which the schema then
  // calls "expected number, received NaN". Its problem is listed with the configuration's.
  const leaseTtlText = values['lease-ttl-ms'];
  const leaseTtlProblem =
    leaseTtlText === undefined
      ? undefined
      : numberFlagProblem('--lease-ttl-ms', leaseTtlText, {
          ...leaseTtlMsRange,
          meaning: 'setting leaseTtlMs',
        });
  // The replicator's own variable (read again when its host opens): listed with the rest now,
  // before the node connects to etcd or makes its data directory.
  const lingerProblem = numberEnvProblem('MF_GROUP_COMMIT_LINGER_MS', process.env, groupCommitLingerMsRange);
  const config = loadNodeConfig({
    flagNames,
    flagProblems: [leaseTtlProblem, lingerProblem].filter((problem) => problem !== undefined),
    flags: {
      nodeId: values.id,
      listen: values.listen,
      advertise: values.advertise,
      dataDir: values.data,
      etcd: values.etcd?.flatMap((e) => e.split(',')),
      cluster: values.cluster,
      metricsListen: values.metrics,
      leaseTtlMs: leaseTtlText === undefined || leaseTtlProblem ? undefined : Number(leaseTtlText),
      manifests: values.manifest,
    },
    env: process.env,
    file: values.config,
  });
  // Machine-readable lines for supervisors and tests (ready-report.ts): the bound address
  // once listening (`--listen host:0` lets the OS pick the port), then once a member.
  const report = (event: 'listening' | 'ready', address: string): void => {
    process.stdout.write(formatNodeReport({ event, nodeId: config.nodeId, address, pid: process.pid }));
  };
  const node = new ClusterNode(config, { onListening: (address) => report('listening', address) });
  let firstSignal: ShutdownSignal | undefined;
  const shutdown = (signal: string): void => {
    const next = { signal, atMs: Date.now() };
    const decision = onShutdownSignal(firstSignal, next);
    if (decision === 'join-drain') {
      node.logger.info({ signal, first: firstSignal?.signal }, 'signal joins the drain under way');
      return;
    }
    if (decision === 'exit-now') {
      node.logger.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(1);
    }
    firstSignal = next;
    node.logger.info({ signal }, 'draining before exit');
    node.stop({ drain: true }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    await node.start();
  } catch (err) {
    // start() binds the gRPC and metrics ports before it opens the data directory and joins:
    // a later failure must close them, or the process prints the error and then lives on.
    // Logged first, so that the log says why before stop() names the etcd steps it gives up
    // on (an unanswering etcd: MF_ETCD_UNREACHABLE); main.ts prints it on stderr too.
    const code = isMeterfabricError(err) ? err.code : undefined;
    node.logger.error({ code, err: String(err) }, 'start failed; stopping what it started');
    await node.stop({ drain: false }).catch(() => undefined);
    throw err;
  }
  report('ready', node.grpcAddress);
  await new Promise<never>(() => undefined);
  return 0;
}
