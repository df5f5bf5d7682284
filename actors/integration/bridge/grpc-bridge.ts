import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Registry } from 'prom-client';
import { ConfigError, isMeterfabricError } from '../../../core/errors.js';
import { protoPath } from '../../../core/paths.js';
import type { CimPublisher } from '../cim-publisher.js';
import { type AuthDecision, authorizeCaller } from './auth.js';
import { type BridgeOptions, type HeadendApi, handleCimRequest } from './execute.js';
import type { InboundOperation } from './read-request.js';
import {
  BoundedSubscriber,
  defaultMaxSubscriberBufferedBytes,
  defaultMaxSubscribers,
  SubscriberOverflowError,
  type SubscriberStats,
  TooManySubscribersError,
} from './subscribe-events.js';
import { subscriberMetrics } from './subscriber-metrics.js';
import { type BridgeTls, validateBridgeTls } from './tls.js';

export { encodePublishedMessageWire } from './published-wire.js';
export { defaultMaxSubscriberBufferedBytes, SubscriberOverflowError, type SubscriberStats };

/**
 * The head-end's public gRPC API (protos/headend.proto) with server reflection: the same
 * operations as the HTTP bridge, each checked to carry the noun its method names, and the
 * resumable stream of published CIM messages. With a token configured, calls must carry
 * `authorization: Bearer <token>` metadata. With `tls` the server speaks TLS; with
 * `tls.clientCaPem` it requires client certificates from that CA (a caller without one fails
 * the handshake: UNAVAILABLE on its side), and a CN outside `allowedClientNames` gets
 * PERMISSION_DENIED (MF_FORBIDDEN). Token and mTLS combine as auth.ts says: both when both.
 */

export type GrpcBridgeOptions = BridgeOptions & {
  address: string;
  token?: string;
  /** TLS; with clientCaPem, mutual TLS. */
  tls?: BridgeTls;
  maxMessageBytes?: number;
  /**
   * Bytes written to a SubscribeEvents stream and not yet taken by its client, per stream
   * (subscribe-events.ts). A client further behind is caught up from the files, or without an
   * out dir its stream ends with RESOURCE_EXHAUSTED (MF_SUBSCRIBER_OVERFLOW). Default 32 MiB.
   */
  maxSubscriberBufferedBytes?: number;
  /**
   * SubscribeEvents streams open at once; one more is refused with RESOURCE_EXHAUSTED
   * (MF_TOO_MANY_SUBSCRIBERS). With the per-stream bound, what all streams may hold is at most
   * maxSubscribers x maxSubscriberBufferedBytes (16 x 32 MiB by default). Default 16.
   */
  maxSubscribers?: number;
  /** The process's metrics registry: meterfabric_subscribe_events_* go there (subscriber-metrics.ts). */
  metrics?: Registry;
};

type CimRequest = { xml: string };
type CimReply = {
  result: string;
  errors: { code: string; level: string; reason: string; xpath: string }[];
  xml: string;
};
type SubscribeRequest = { afterPosition: number; nouns: string[] };

export const headendPackage = protoLoader.loadSync(protoPath('headend.proto'), {
  keepCase: false,
  longs: Number,
  defaults: true,
  enums: String,
});

const loaded = grpc.loadPackageDefinition(headendPackage) as unknown as {
  meterfabric: { headend: { v1: { Headend: grpc.ServiceClientConstructor } } };
};
export const HeadendService = loaded.meterfabric.headend.v1.Headend;

const methods: Record<string, InboundOperation> = {
  MeterConfig: 'MeterConfig',
  UsagePointLocationConfig: 'UsagePointLocationConfig',
  MasterDataLinkageConfig: 'MasterDataLinkageConfig',
  OnDemandMeterReadings: 'OnDemandMeterReadings',
  EndDeviceControl: 'EndDeviceControl',
};

/**
 * The service with SubscribeEvents' replies written by `encodePublishedMessageWire`, when the
 * message is written (`BoundedSubscriber.offer`, subscribe-events.ts): the publisher's bytes may
 * be lent for the duration of the listener call only, while grpc-js serializes a reply when the
 * stream gets to it.
 */
const headendServiceWithByteStream: grpc.ServiceDefinition = {
  ...HeadendService.service,
  SubscribeEvents: {
    ...(HeadendService.service.SubscribeEvents as grpc.MethodDefinition<SubscribeRequest, Buffer>),
    responseSerialize: (wire: Buffer) => wire,
  },
};

export type GrpcBridge = {
  server: grpc.Server;
  port: number;
  /** The open SubscribeEvents streams: what each has waiting for its client. */
  subscriberStats(): SubscriberStats[];
  /** The bound in force per stream (the option, or its default). */
  maxSubscriberBufferedBytes: number;
  close(): Promise<void>;
};

export async function startGrpcBridge(
  api: HeadendApi,
  publisher: CimPublisher,
  options: GrpcBridgeOptions,
): Promise<GrpcBridge> {
  validateBridgeTls(options.tls);
  const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
  const maxSubscriberBufferedBytes = options.maxSubscriberBufferedBytes ?? defaultMaxSubscriberBufferedBytes;
  if (!(Number.isSafeInteger(maxSubscriberBufferedBytes) && maxSubscriberBufferedBytes > 0))
    throw new ConfigError([
      `maxSubscriberBufferedBytes must be a positive integer (got ${maxSubscriberBufferedBytes})`,
    ]);
  const maxSubscribers = options.maxSubscribers ?? defaultMaxSubscribers;
  if (!(Number.isSafeInteger(maxSubscribers) && maxSubscribers > 0))
    throw new ConfigError([`maxSubscribers must be a positive integer (got ${maxSubscribers})`]);
  const subscribers = new Set<BoundedSubscriber>();
  const subscriberStats = () => [...subscribers].map((s) => s.stats());
  const metrics = options.metrics
    ? subscriberMetrics(options.metrics, { stats: subscriberStats, maxSubscriberBufferedBytes })
    : undefined;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': 16 * 1024 * 1024,
  });
  const authenticate = (call: {
    metadata: grpc.Metadata;
    getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: string | string[] } } };
  }): AuthDecision =>
    authorizeCaller(options, {
      authorization: call.metadata.get('authorization')[0]?.toString(),
      peerCommonName: call.getAuthContext().sslPeerCertificate?.subject?.CN,
    });
  const refusal = (decision: Exclude<AuthDecision, { ok: true }>): grpc.ServiceError =>
    Object.assign(new Error(`${decision.code}: ${decision.reason}`), {
      code: decision.code === 'MF_FORBIDDEN' ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED,
      details: `${decision.code}: ${decision.reason}`,
      metadata: new grpc.Metadata(),
    });
  const unary = (operation: InboundOperation): grpc.handleUnaryCall<CimRequest, CimReply> => {
    return (call, callback) => {
      const decision = authenticate(call);
      if (!decision.ok) return callback(refusal(decision));
      handleCimRequest(api, call.request.xml, options, operation).then(
        (outcome) => {
          callback(null, {
            result: outcome.reply.result,
            errors: outcome.reply.errors.map((e) => ({
              code: e.code,
              level: e.level,
              reason: e.reason,
              xpath: e.xpath ?? '',
            })),
            xml: outcome.xml,
          });
        },
        (err: unknown) =>
          callback({
            code: grpc.status.INTERNAL,
            details: isMeterfabricError(err) ? `${err.code}: ${err.message}` : String(err),
          }),
      );
    };
  };
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, operation] of Object.entries(methods)) implementation[method] = unary(operation);
  implementation.SubscribeEvents = ((call: grpc.ServerWritableStream<SubscribeRequest, unknown>) => {
    const decision = authenticate(call);
    if (!decision.ok) {
      endStream(call, refusal(decision));
      return;
    }
    if (subscribers.size >= maxSubscribers) {
      const err = new TooManySubscribersError(maxSubscribers, call.request.afterPosition);
      metrics?.ended(err);
      endStream(call, subscriptionStatus(err));
      return;
    }
    const subscriber = new BoundedSubscriber(
      publisher,
      {
        write: (wire, taken) => call.write(wire, taken),
        fail: (err) => {
          metrics?.ended(err);
          endStream(call, subscriptionStatus(err));
        },
      },
      {
        afterPosition: call.request.afterPosition,
        nouns: new Set(call.request.nouns),
        maxSubscriberBufferedBytes,
        ...(metrics ? { onFellBehind: metrics.fellBehind } : {}),
      },
    );
    subscribers.add(subscriber);
    const close = () => {
      subscribers.delete(subscriber);
      subscriber.close();
    };
    call.on('cancelled', close);
    call.on('close', close);
    subscriber.start();
  }) as grpc.handleServerStreamingCall<SubscribeRequest, unknown>;
  server.addService(headendServiceWithByteStream, implementation);
  new ReflectionService(headendPackage).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.address, serverCredentials(options.tls), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  ).catch((err: unknown) => {
    // Not left registered: a retry on another port would find the names taken.
    metrics?.unregister();
    throw err;
  });
  return {
    server,
    port,
    subscriberStats,
    maxSubscriberBufferedBytes,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2_000).unref();
      }).finally(() => metrics?.unregister()),
  };
}

function serverCredentials(tls: BridgeTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const pem = (v: string | Buffer) => (typeof v === 'string' ? Buffer.from(v) : v);
  return grpc.ServerCredentials.createSsl(
    tls.clientCaPem !== undefined ? pem(tls.clientCaPem) : null,
    [{ cert_chain: pem(tls.certPem), private_key: pem(tls.keyPem) }],
    // checkClientCertificate: refuse the handshake of a caller without a certificate from the CA.
    tls.clientCaPem !== undefined,
  );
}

/**
 * A SubscribeEvents stream's end as a gRPC status, its MF_* code and (when there is one) the
 * position to resume from in the trailers (`mf-code`, `mf-resume-from`): a client that fell too
 * far behind without files gets RESOURCE_EXHAUSTED, a checkpoint the window no longer holds
 * OUT_OF_RANGE, a file that could not be read INTERNAL.
 */
function subscriptionStatus(err: unknown): Partial<grpc.StatusObject> & Error {
  const metadata = new grpc.Metadata();
  if (!isMeterfabricError(err))
    return Object.assign(new Error(String(err)), { code: grpc.status.INTERNAL, metadata });
  metadata.set('mf-code', err.code);
  if (typeof err.details.resumeFrom === 'number')
    metadata.set('mf-resume-from', String(err.details.resumeFrom));
  return Object.assign(new Error(`${err.code}: ${err.message}`), {
    code:
      err instanceof SubscriberOverflowError || err instanceof TooManySubscribersError
        ? grpc.status.RESOURCE_EXHAUSTED
        : grpc.status.OUT_OF_RANGE,
    metadata,
  });
}

/**
 * Ends a server stream with an error status. Not `call.destroy(err)`: grpc-js then never sends
 * the status, and the client waits until its deadline; an 'error' event makes the call end
 * with the error's code and details.
 */
function endStream(
  call: grpc.ServerWritableStream<SubscribeRequest, unknown>,
  err: Partial<grpc.StatusObject> & Error,
): void {
  call.emit('error', err);
}
