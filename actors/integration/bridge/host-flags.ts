import { ConfigError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { WebhookSubscriberConfig } from '../webhook-config.js';
import {
  type BridgePortFlagValues,
  bridgeFlagsWithoutPort,
  bridgeSettings,
  type IntegrationFlagValues,
  integrationFlags,
  readBridgePort,
  readIntegrationFlags,
} from './cli-flags.js';
import type { IntegrationBridgeSettings } from './serve.js';
import { defaultMaxSubscriberBufferedBytes } from './subscribe-events.js';

/**
 * The flags of a process that hosts the integration outputs in production (`meterfabric up`:
 * its driver writes the CSV/CIM files, so it serves the CIM bridge and gRPC API, runs the
 * webhook dispatcher and exposes their metrics). The security flags are `integrationFlags`
 * (cli-flags.ts), validated the same way as in the demo CLI; these add where to listen.
 *
 *   --bridge-host <addr>        address the bridges bind (default 127.0.0.1)
 *   --http-port <n>             serve POST /cim there (0: any free port)
 *   --grpc-port <n>             serve the gRPC API there (0: any free port)
 *   --metrics <host:port>       GET /metrics (meterfabric_webhook_*, meterfabric_subscribe_events_*,
 *                               process) and /health
 *
 * A bridge bound to a non-loopback address must authenticate its callers: without a token or
 * a client CA it is refused at start, not left open.
 */

export const integrationHostFlags = {
  ...integrationFlags,
  'bridge-host': { type: 'string' },
  'http-port': { type: 'string' },
  'grpc-port': { type: 'string' },
  metrics: { type: 'string' },
} as const;

export type IntegrationHostFlagValues = IntegrationFlagValues &
  BridgePortFlagValues & {
    metrics?: string | undefined;
  };

export type IntegrationHostSettings = {
  /**
   * The bridges as configured: what the head-end hook starts them with (serve.ts). The
   * per-stream bound is always filled in (the default when the flag is absent); maxSubscribers
   * only when --max-subscribers is given (absent: the gRPC bridge's default, 16).
   */
  bridges?: IntegrationBridgeSettings & { maxSubscriberBufferedBytes: number };
  webhooks?: WebhookSubscriberConfig[];
  metricsListen?: string;
};

export async function readIntegrationHostFlags(
  values: IntegrationHostFlagValues,
  context: { env?: Readonly<Record<string, string | undefined>>; logger?: Logger } = {},
): Promise<IntegrationHostSettings> {
  const problems: string[] = [];
  const httpPort = readBridgePort(values, 'http-port', problems);
  const grpcPort = readBridgePort(values, 'grpc-port', problems);
  const bridged = values['http-port'] !== undefined || values['grpc-port'] !== undefined;
  problems.push(...bridgeFlagsWithoutPort(values));
  if (values['bridge-host'] === '') problems.push('--bridge-host is empty');
  // The same shape startIntegrationMetrics takes, checked with the other flags: found only when
  // the endpoint starts, a typo would end an `up` whose cluster is already running.
  const metrics = values.metrics === undefined ? undefined : /^(.+):(\d{1,5})$/.exec(values.metrics);
  if (metrics !== undefined && !(metrics && Number(metrics[2]) <= 65535))
    problems.push(
      `--metrics must be host:port (e.g. 127.0.0.1:9464; port 0: any free port), not "${values.metrics}"`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
  const host = values['bridge-host'] ?? '127.0.0.1';
  // Serving beyond this machine is what makes it production here (it must then authenticate).
  const settings = await readIntegrationFlags(values, {
    ...context,
    production: bridged && !isLoopback(host),
  });
  if (bridged && !isLoopback(host) && settings.token === undefined && settings.tls?.clientCaPem === undefined)
    throw new ConfigError([
      `the bridge on ${host} would take unauthenticated calls: give --token-file (or MF_BRIDGE_TOKEN) and/or --tls-client-ca, or bind it to 127.0.0.1`,
    ]);
  return {
    ...(bridged
      ? {
          bridges: {
            ...bridgeSettings({ host, httpPort: httpPort ?? 0, grpcPort: grpcPort ?? 0 }, settings),
            maxSubscriberBufferedBytes:
              settings.maxSubscriberBufferedBytes ?? defaultMaxSubscriberBufferedBytes,
          },
        }
      : {}),
    ...(settings.webhooks ? { webhooks: settings.webhooks } : {}),
    ...(values.metrics !== undefined ? { metricsListen: values.metrics } : {}),
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
