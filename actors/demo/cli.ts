import { resolve } from 'node:path';
import {
  exitCodeFor,
  exitCodes,
  type NumberFlagRange,
  numberFlagProblem,
  parseCommandLine,
} from '../../core/command-line.js';
import { ConfigError, isMeterfabricError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import {
  bridgeFlagsWithoutPort,
  bridgeSettings,
  integrationFlags,
  readBridgePort,
  readIntegrationFlags,
} from '../integration/bridge/cli-flags.js';
import { startIntegrationMetrics } from '../integration/bridge/metrics-endpoint.js';
import { demoDayFlags, readDemoDayFlags } from './day-flags.js';
import { demoSizeRanges } from './demo-env.js';
import { formatSummary, runDemoDay } from './run-day.js';

/**
 * `meterfabric demo` (or `node dist/actors/demo/cli.js`): one simulated day through the
 * head-end, CSV + CIM under --out. The hook `meterfabric up` can call is `runDemoDay`.
 * An unreadable flag (`UsageError`) or a refused value (`ConfigError`) is thrown before
 * anything starts: exit 2 from either entry point.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine('demo', {
    args: argv,
    options: {
      out: { type: 'string', default: './out' },
      concentrators: { type: 'string', default: '100' },
      meters: { type: 'string', default: '20' },
      'knx-sites': { type: 'string', default: '2' },
      'battery-sites': { type: 'string', default: '2' },
      'http-port': { type: 'string' },
      'grpc-port': { type: 'string' },
      metrics: { type: 'string' },
      ...demoDayFlags,
      ...integrationFlags,
    },
  });
  const problems: string[] = [];
  const read = (flag: string, text: string, range: NumberFlagRange): number => {
    const problem = numberFlagProblem(flag, text, range);
    if (problem !== undefined) problems.push(problem);
    return Number(text);
  };
  const concentrators = read('--concentrators', values.concentrators, demoSizeRanges.concentrators);
  const meters = read('--meters', values.meters, demoSizeRanges.meters);
  const knxSites = read('--knx-sites', values['knx-sites'], demoSizeRanges.knxSites);
  const batterySites = read('--battery-sites', values['battery-sites'], demoSizeRanges.batterySites);
  const httpPort = readBridgePort(values, 'http-port', problems);
  const grpcPort = readBridgePort(values, 'grpc-port', problems);
  // Refused before anything starts, as `up` does: --token without a port would start no bridge
  // and leave the user believing callers are authenticated.
  problems.push(...bridgeFlagsWithoutPort(values));
  if (problems.length > 0) throw new ConfigError(problems);
  const dayFlags = readDemoDayFlags(values);
  const security = await readIntegrationFlags(values, { logger: createLogger({ component: 'demo' }) });
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  // --metrics host:port: /metrics with meterfabric_webhook_* and meterfabric_subscribe_events_* while the day runs.
  const metrics = values.metrics !== undefined ? await startIntegrationMetrics(values.metrics) : undefined;
  if (metrics) process.stdout.write(`metrics at http://${metrics.address}/metrics\n`);
  const summary = await runDemoDay({
    outDir: resolve(values.out),
    concentrators,
    metersPerConcentrator: meters,
    knxSites,
    batterySites,
    speed: 1440,
    ...dayFlags,
    signal: controller.signal,
    ...(security.webhooks ? { webhooks: security.webhooks } : {}),
    ...(metrics ? { metrics: metrics.registry } : {}),
    ...(httpPort !== undefined || grpcPort !== undefined
      ? {
          bridges: bridgeSettings(
            { host: '127.0.0.1', httpPort: httpPort ?? 0, grpcPort: grpcPort ?? 0 },
            security,
          ),
        }
      : {}),
  }).finally(() => metrics?.close());
  process.stdout.write(`${formatSummary(summary)}\n`);
  return 0;
}

if (process.argv[1]?.endsWith('/actors/demo/cli.js')) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      // The same codes as `meterfabric demo` (core/command-line.ts): 2 for a flag or config error.
      process.exit(isMeterfabricError(err) ? exitCodeFor(err) : exitCodes.failed);
    },
  );
}
