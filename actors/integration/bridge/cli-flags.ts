import { listenPortRange, numberFlagProblem } from '../../../core/command-line.js';
import { ConfigError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { WebhookSubscriberConfig } from '../webhook-config.js';
import { loadWebhookConfigFile } from '../webhook-file-config.js';
import { bridgeTokenEnv, resolveBridgeToken, type TokenSource } from './secrets.js';
import type { IntegrationBridgeSettings } from './serve.js';
import { defaultMaxSubscriberBufferedBytes, defaultMaxSubscribers } from './subscribe-events.js';
import { type BridgeTls, loadBridgeTls } from './tls.js';

/**
 * Command-line flags for the integrator-facing security and delivery options, so every CLI
 * that serves the bridge (the demo, later the node) spells them the same way. Spread
 * `integrationFlags` into node:util parseArgs options and pass the values to
 * `readIntegrationFlags`.
 *
 *   --token-file <path>                  bearer token callers must send (or MF_BRIDGE_TOKEN;
 *                                        --token <t> works too, but shows in ps: warned)
 *   --tls-cert <pem> --tls-key <pem>     serve the HTTP bridge as HTTPS and gRPC over TLS
 *   --tls-client-ca <pem>                require client certificates from this CA (mTLS)
 *   --tls-allowed-clients <cn,cn>        only these client certificate subject CNs
 *   --webhook-config <json>              webhook subscribers (webhook-file-config.ts; secrets
 *                                        by secretEnv or secretFile, never on the command line)
 *   --max-subscriber-buffered-mib <n>    MiB one SubscribeEvents stream may have waiting for a
 *                                        slow client (subscribe-events.ts), 1..1024, default 32
 *   --max-subscribers <n>                SubscribeEvents streams served at once (one more is
 *                                        refused: MF_TOO_MANY_SUBSCRIBERS), 1..256, default 16
 *
 * The token and TLS flags configure the bridge, so they need --http-port and/or --grpc-port;
 * --max-subscriber-buffered-mib and --max-subscribers need --grpc-port
 * (`bridgeFlagsWithoutPort`). --webhook-config works without a bridge.
 */

export const integrationFlags = {
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-client-ca': { type: 'string' },
  'tls-allowed-clients': { type: 'string' },
  'webhook-config': { type: 'string' },
  'max-subscriber-buffered-mib': { type: 'string' },
  'max-subscribers': { type: 'string' },
} as const;

export type IntegrationFlagValues = {
  token?: string | undefined;
  'token-file'?: string | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
  'tls-client-ca'?: string | undefined;
  'tls-allowed-clients'?: string | undefined;
  'webhook-config'?: string | undefined;
  'max-subscriber-buffered-mib'?: string | undefined;
  'max-subscribers'?: string | undefined;
};

export type IntegrationSettings = {
  /** The bridge's bearer token and where it came from (flag, file or MF_BRIDGE_TOKEN). */
  token?: string;
  tokenSource?: TokenSource;
  tls?: BridgeTls;
  webhooks?: WebhookSubscriberConfig[];
  /** From --max-subscriber-buffered-mib; absent: the bridge's default (32 MiB). */
  maxSubscriberBufferedBytes?: number;
  /** From --max-subscribers; absent: the bridge's default (16). */
  maxSubscribers?: number;
};

export { bridgeTokenEnv };

/** Where the bridges listen: `up` has all three, the demo CLI the two ports (always loopback). */
export type BridgePortFlagValues = {
  'bridge-host'?: string | undefined;
  'http-port'?: string | undefined;
  'grpc-port'?: string | undefined;
};

/**
 * Flags that configure the bridges themselves (authentication, TLS, where they bind). No
 * bridge starts without --http-port or --grpc-port, so without one of those they would do
 * nothing: a user who passed --token believing callers are authenticated must hear so.
 */
const bridgeOnlyFlags = [
  'bridge-host',
  'token',
  'token-file',
  'tls-cert',
  'tls-key',
  'tls-client-ca',
  'tls-allowed-clients',
] as const;

/** Flags that only the gRPC API reads (SubscribeEvents): they need --grpc-port. */
const grpcOnlyFlags = ['max-subscriber-buffered-mib', 'max-subscribers'] as const;

/**
 * The bridge flags given without the port flag that starts what they configure, as problems
 * for a ConfigError (empty: none). Shared by `meterfabric up` (host-flags.ts) and
 * `meterfabric demo` (actors/demo/cli.ts), checked before anything starts.
 */
export function bridgeFlagsWithoutPort(values: IntegrationFlagValues & BridgePortFlagValues): string[] {
  const problems: string[] = [];
  const bridged = values['http-port'] !== undefined || values['grpc-port'] !== undefined;
  if (!bridged)
    for (const flag of bridgeOnlyFlags)
      if (values[flag] !== undefined)
        problems.push(
          `--${flag} configures the bridge, which only starts with --http-port and/or --grpc-port: add one, or drop --${flag} (without a port it would do nothing)`,
        );
  for (const flag of grpcOnlyFlags)
    if (values[flag] !== undefined && values['grpc-port'] === undefined)
      problems.push(`--${flag} bounds the gRPC SubscribeEvents streams: add --grpc-port`);
  return problems;
}

/**
 * A bridge port flag: undefined when absent, else the port (0: any free port) or a problem
 * pushed for the ConfigError. Shared so that both CLIs accept the same spellings.
 */
export function readBridgePort(
  values: BridgePortFlagValues,
  flag: 'http-port' | 'grpc-port',
  problems: string[],
): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const problem = numberFlagProblem(`--${flag}`, raw, listenPortRange);
  if (problem !== undefined) {
    problems.push(problem);
    return undefined;
  }
  return Number(raw);
}

/**
 * Upper end of --max-subscriber-buffered-mib. The bound is per stream, so a host with many
 * subscribers holds up to this times their number; beyond 1 GiB a typo (a byte count given as
 * MiB) is likelier than a need.
 */
export const maxSubscriberBufferedMibLimit = 1024;

/** --max-subscriber-buffered-mib as bytes; undefined when absent. */
export function readMaxSubscriberBufferedBytes(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const problem = numberFlagProblem('--max-subscriber-buffered-mib', text, {
    min: 1,
    max: maxSubscriberBufferedMibLimit,
    meaning: `MiB one SubscribeEvents stream may have waiting for a slow client; default ${defaultMaxSubscriberBufferedBytes / 2 ** 20}`,
  });
  if (problem !== undefined) throw new ConfigError([problem]);
  return Number(text) * 2 ** 20;
}

/**
 * Upper end of --max-subscribers. Each stream may hold up to the per-stream bound for its
 * client, so 256 streams at the default 32 MiB may hold 8 GiB together, already more than a
 * head-end host is likely to spare; a larger number is likelier a typo than that many
 * integrators.
 */
export const maxSubscribersLimit = 256;

/** --max-subscribers as a count; undefined when absent. */
export function readMaxSubscribers(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const problem = numberFlagProblem('--max-subscribers', text, {
    min: 1,
    max: maxSubscribersLimit,
    meaning: `SubscribeEvents streams the gRPC API serves at once; default ${defaultMaxSubscribers}`,
  });
  if (problem !== undefined) throw new ConfigError([problem]);
  return Number(text);
}

export async function readIntegrationFlags(
  values: IntegrationFlagValues,
  context: {
    env?: Readonly<Record<string, string | undefined>>;
    logger?: Logger;
    /** Configured for production (host-flags.ts: the bridge serves a non-loopback address): inline webhook secrets are refused. */
    production?: boolean;
  } = {},
): Promise<IntegrationSettings> {
  const env = context.env ?? process.env;
  // First: a wrong number is reported before any file is read.
  const maxSubscriberBufferedBytes = readMaxSubscriberBufferedBytes(values['max-subscriber-buffered-mib']);
  const maxSubscribers = readMaxSubscribers(values['max-subscribers']);
  const token = await resolveBridgeToken({
    flag: values.token,
    file: values['token-file'],
    env,
    ...(context.logger ? { logger: context.logger } : {}),
  });
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined))
    throw new ConfigError(['--tls-cert and --tls-key go together']);
  if (
    cert === undefined &&
    (values['tls-client-ca'] !== undefined || values['tls-allowed-clients'] !== undefined)
  )
    throw new ConfigError(['--tls-client-ca and --tls-allowed-clients need --tls-cert and --tls-key']);
  const tls =
    cert !== undefined && key !== undefined
      ? await loadBridgeTls({
          certFile: cert,
          keyFile: key,
          ...(values['tls-client-ca'] !== undefined ? { clientCaFile: values['tls-client-ca'] } : {}),
          ...(values['tls-allowed-clients'] !== undefined
            ? { allowedClients: values['tls-allowed-clients'] }
            : {}),
        })
      : undefined;
  const webhooks =
    values['webhook-config'] !== undefined
      ? await loadWebhookConfigFile(values['webhook-config'], env, {
          production: context.production ?? false,
          ...(context.logger ? { logger: context.logger } : {}),
        })
      : undefined;
  return {
    ...(token ? { token: token.token, tokenSource: token.source } : {}),
    ...(tls ? { tls } : {}),
    ...(webhooks ? { webhooks } : {}),
    ...(maxSubscriberBufferedBytes !== undefined ? { maxSubscriberBufferedBytes } : {}),
    ...(maxSubscribers !== undefined ? { maxSubscribers } : {}),
  };
}

/**
 * The bridges' settings: where they listen, and what `readIntegrationFlags` read for them.
 * `up` (host-flags.ts) and the demo CLI both build them here, so a bridge option added to
 * `IntegrationBridgeSettings` and `IntegrationSettings` is passed on in this one place.
 */
export function bridgeSettings(
  where: { host: string; httpPort: number; grpcPort: number },
  settings: IntegrationSettings,
): IntegrationBridgeSettings {
  return {
    ...where,
    ...(settings.token !== undefined ? { token: settings.token } : {}),
    ...(settings.tls ? { tls: settings.tls } : {}),
    ...(settings.maxSubscriberBufferedBytes !== undefined
      ? { maxSubscriberBufferedBytes: settings.maxSubscriberBufferedBytes }
      : {}),
    ...(settings.maxSubscribers !== undefined ? { maxSubscribers: settings.maxSubscribers } : {}),
  };
}
