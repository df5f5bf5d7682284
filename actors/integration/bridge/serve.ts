import type { Registry } from 'prom-client';
import type { Logger } from '../../../core/logger.js';
import type { CimPublisher } from '../cim-publisher.js';
import type { WebhookSubscriberConfig } from '../webhook-config.js';
import { WebhookDispatcher } from '../webhook-dispatcher.js';
import type { BridgeOptions, HeadendApi } from './execute.js';
import { type GrpcBridge, startGrpcBridge } from './grpc-bridge.js';
import { type HttpBridge, startHttpBridge } from './http-bridge.js';
import type { BridgeTls } from './tls.js';

/**
 * Everything integrators talk to, started together with one security configuration: the HTTP
 * bridge, the gRPC API, and (optionally) webhook delivery of the publisher's messages. The
 * demo day (actors/demo/run-day.ts, under `meterfabric demo` and `up`) starts its bridges
 * here, with the settings its CLI read (`bridgeSettings`, cli-flags.ts); it runs its webhook
 * dispatcher itself, since that also runs without bridges and closes only after the day's
 * last messages have drained. On a failure to start, whatever was already started is closed
 * again.
 */

/**
 * Where the two bridges listen and how they treat callers: what `meterfabric up`
 * (host-flags.ts) and `meterfabric demo` read from their flags (`bridgeSettings`,
 * cli-flags.ts) and hand to `serveIntegration`. Defined once here, so that a new bridge option
 * is one field that every CLI passes through rather than a copy per caller.
 */
export type IntegrationBridgeSettings = {
  host: string;
  /** 0: any free port. */
  httpPort: number;
  grpcPort: number;
  token?: string;
  tls?: BridgeTls;
  /** Per SubscribeEvents stream (grpc-bridge.ts, --max-subscriber-buffered-mib); default 32 MiB. */
  maxSubscriberBufferedBytes?: number;
  /** SubscribeEvents streams open at once (grpc-bridge.ts, --max-subscribers); default 16. */
  maxSubscribers?: number;
};

export type IntegrationServeOptions = BridgeOptions &
  IntegrationBridgeSettings & {
    webhooks?: { subscribers: readonly WebhookSubscriberConfig[]; stateDir: string };
    /** The process's metrics registry (metrics-endpoint.ts): meterfabric_subscribe_events_* and meterfabric_webhook_*. */
    metrics?: Registry;
    logger?: Logger;
  };

export type ServedIntegration = {
  http: HttpBridge;
  grpc: GrpcBridge;
  webhook?: WebhookDispatcher;
  /** One line for the progress log: where to connect and how callers are authenticated. */
  describe(): string;
  close(): Promise<void>;
};

export async function serveIntegration(
  api: HeadendApi,
  publisher: CimPublisher,
  options: IntegrationServeOptions,
): Promise<ServedIntegration> {
  const common = {
    ...options,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
  };
  const opened: { close(): Promise<void> }[] = [];
  try {
    const http = await startHttpBridge(api, { ...common, port: options.httpPort });
    opened.push(http);
    const grpc = await startGrpcBridge(api, publisher, {
      ...common,
      address: `${options.host}:${options.grpcPort}`,
    });
    opened.push(grpc);
    const webhook = options.webhooks
      ? await WebhookDispatcher.start(publisher, {
          ...options.webhooks,
          ...(options.logger ? { logger: options.logger } : {}),
          ...(options.metrics ? { metrics: options.metrics } : {}),
        })
      : undefined;
    const auth = [
      options.tls?.clientCaPem !== undefined ? 'mTLS' : undefined,
      options.token !== undefined ? 'bearer token' : undefined,
    ].filter((s) => s !== undefined);
    return {
      http,
      grpc,
      ...(webhook ? { webhook } : {}),
      describe: () =>
        `CIM bridge ${http.url}, gRPC ${options.host}:${grpc.port} (${options.tls ? 'TLS' : 'plaintext'}, with reflection); ` +
        `callers: ${auth.length > 0 ? auth.join(' + ') : 'unauthenticated (development)'}` +
        (webhook
          ? `; webhooks: ${webhook
              .status()
              .map((s) => s.name)
              .join(', ')}`
          : ''),
      close: async () => {
        await webhook?.close();
        await grpc.close();
        await http.close();
      },
    };
  } catch (err) {
    for (const o of opened.reverse()) await o.close();
    throw err;
  }
}
