import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { isMeterfabricError } from '../../../core/errors.js';
import { protoPath } from '../../../core/paths.js';
import type { CimPublisher, PublishedMessage } from '../cim-publisher.js';
import { type AuthDecision, authorizeCaller } from './auth.js';
import { type BridgeOptions, type HeadendApi, handleCimRequest } from './execute.js';
import type { InboundOperation } from './read-request.js';
import { type BridgeTls, validateBridgeTls } from './tls.js';

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
 * A PublishedMessage (protos/headend.proto) on the wire, written straight from the message's
 * UTF-8 bytes: the generic serializer takes the XML only as a string, which would mean decoding
 * every message and encoding it again per subscriber. Same bytes as protobufjs writes for
 * `{ position, noun, messageId, correlationId, xml }` (every field, in field order, empty strings
 * included); test/cim/grpc-published-wire.test.ts compares the two.
 */
export function encodePublishedMessageWire(m: PublishedMessage): Buffer {
  const noun = Buffer.from(m.noun, 'utf8');
  const messageId = Buffer.from(m.messageId, 'utf8');
  const correlationId = Buffer.from(m.correlationId ?? '', 'utf8');
  const fields: [number, Uint8Array][] = [
    [0x12, noun],
    [0x1a, messageId],
    [0x22, correlationId],
    [0x2a, m.bytes],
  ];
  let size = 1 + varintSize(m.position);
  for (const [, bytes] of fields) size += 1 + varintSize(bytes.byteLength) + bytes.byteLength;
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x08; // field 1 (position), varint
  let pos = writeVarint(out, 1, m.position);
  for (const [tag, bytes] of fields) {
    out[pos++] = tag; // field n, length-delimited
    pos = writeVarint(out, pos, bytes.byteLength);
    out.set(bytes, pos);
    pos += bytes.byteLength;
  }
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  for (let x = n; x >= 128; x = Math.floor(x / 128)) size++;
  return size;
}

/** An unsigned safe integer as a protobuf varint (arithmetic, not bit operators: positions exceed 2^32). */
function writeVarint(out: Buffer, at: number, n: number): number {
  let pos = at;
  let x = n;
  while (x >= 128) {
    out[pos++] = (x % 128) | 0x80;
    x = Math.floor(x / 128);
  }
  out[pos++] = x;
  return pos;
}

/**
 * The service with SubscribeEvents' replies written by `encodePublishedMessageWire`, when the
 * message is written (`send` below): the publisher's bytes may be lent for the duration of the
 * listener call only, while grpc-js serializes a reply when the stream gets to it.
 */
const headendServiceWithByteStream: grpc.ServiceDefinition = {
  ...HeadendService.service,
  SubscribeEvents: {
    ...(HeadendService.service.SubscribeEvents as grpc.MethodDefinition<SubscribeRequest, Buffer>),
    responseSerialize: (wire: Buffer) => wire,
  },
};

export type GrpcBridge = { server: grpc.Server; port: number; close(): Promise<void> };

export async function startGrpcBridge(
  api: HeadendApi,
  publisher: CimPublisher,
  options: GrpcBridgeOptions,
): Promise<GrpcBridge> {
  validateBridgeTls(options.tls);
  const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
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
    const nouns = new Set(call.request.nouns);
    const send = (m: PublishedMessage) => {
      if (nouns.size > 0 && !nouns.has(m.noun)) return;
      call.write(encodePublishedMessageWire(m));
    };
    const outOfRange = (err: unknown) =>
      Object.assign(new Error(isMeterfabricError(err) ? `${err.code}: ${err.message}` : String(err)), {
        code: isMeterfabricError(err) ? grpc.status.OUT_OF_RANGE : grpc.status.INTERNAL,
      });
    try {
      const unsubscribe = publisher.subscribe(call.request.afterPosition, send, {
        // A backlog is read from the files only as fast as the client takes it.
        ready: () =>
          call.writableNeedDrain && !call.destroyed
            ? new Promise<void>((resolve) => {
                const done = () => {
                  call.off('drain', done);
                  call.off('close', done);
                  resolve();
                };
                call.on('drain', done);
                call.on('close', done);
              })
            : undefined,
        // The window ended inside the backlog (a torn or missing file): OUT_OF_RANGE, as at subscribe.
        onError: (err) => endStream(call, outOfRange(err)),
      });
      call.on('cancelled', unsubscribe);
      call.on('close', unsubscribe);
    } catch (err) {
      endStream(call, outOfRange(err));
    }
  }) as grpc.handleServerStreamingCall<SubscribeRequest, unknown>;
  server.addService(headendServiceWithByteStream, implementation);
  new ReflectionService(headendPackage).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.address, serverCredentials(options.tls), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2_000).unref();
      }),
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
