import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { encodeResponseMessage } from '../../../adapters/cim/message.js';
import { SOAP11_NS, SOAP12_NS } from '../../../adapters/cim/namespaces.js';
import { isoUtc } from '../../../adapters/cim/xml-build.js';
import type { Logger } from '../../../core/logger.js';
import { silentLogger } from '../../../core/logger.js';
import { authorizeCaller } from './auth.js';
import { type BridgeOptions, type HeadendApi, handleCimRequest } from './execute.js';
import { type BridgeTls, validateBridgeTls } from './tls.js';

/**
 * The CIM bridge over HTTP: POST a CIM request (SOAP 1.1/1.2 envelope or a bare message) to
 * `/cim`; the reply is a ResponseMessage, wrapped in the same SOAP version when the request
 * was. Bodies are bounded; with a token configured, callers must send `Authorization: Bearer`;
 * with `tls` it serves HTTPS, and with `tls.clientCaPem` it requires client certificates (mTLS,
 * see tls.ts and auth.ts for how that combines with the token).
 * Status codes: 200 with Result OK, 400 FAILED (bad input), 401 unauthenticated, 403 client
 * certificate not an allowed integrator, 413 body too large, 404/405 for other paths/methods;
 * every error body is a CIM reply saying what to do.
 */

export type HttpBridgeOptions = BridgeOptions & {
  host: string;
  port: number;
  /** When set, every request must carry it as a bearer token (production). */
  token?: string;
  /** Serve HTTPS; with clientCaPem, mutual TLS. */
  tls?: BridgeTls;
  maxBodyBytes?: number;
  logger?: Logger;
};

export type HttpBridge = { server: Server; url: string; close(): Promise<void> };

export async function startHttpBridge(api: HeadendApi, options: HttpBridgeOptions): Promise<HttpBridge> {
  validateBridgeTls(options.tls);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const logger = options.logger ?? silentLogger;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, 'CIM bridge request failed');
      if (!res.headersSent)
        reply(res, 500, failure('MF_INTERNAL', 'internal error; the request may be retried', options));
    });
  };
  const tls = options.tls;
  const server: Server = tls
    ? createTlsServer(
        {
          cert: tls.certPem,
          key: tls.keyPem,
          minVersion: 'TLSv1.2',
          // mTLS: the handshake itself refuses callers without a certificate from this CA.
          ...(tls.clientCaPem !== undefined
            ? { ca: tls.clientCaPem, requestCert: true, rejectUnauthorized: true }
            : {}),
        },
        onRequest,
      )
    : createServer(onRequest);
  // A refused handshake (no client certificate, another CA) never reaches onRequest: log it here.
  server.on('tlsClientError', (err: Error, socket: { remoteAddress?: string }) =>
    logger.warn({ err: err.message, remote: socket.remoteAddress }, 'CIM bridge refused a TLS client'),
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url !== '/cim')
      return reply(res, 404, failure('MF_HTTP_NOT_FOUND', 'POST CIM requests to /cim', options));
    if (req.method !== 'POST') return reply(res, 405, failure('MF_HTTP_METHOD', 'use POST', options));
    const socket = req.socket as Partial<TLSSocket>;
    const peer = socket.authorized ? socket.getPeerCertificate?.() : undefined;
    const decision = authorizeCaller(options, {
      authorization: req.headers.authorization,
      peerCommonName: peer?.subject?.CN,
    });
    if (!decision.ok) {
      req.resume();
      logger.warn({ code: decision.code, remote: req.socket.remoteAddress }, 'CIM bridge refused a caller');
      return reply(
        res,
        decision.code === 'MF_FORBIDDEN' ? 403 : 401,
        failure(decision.code, decision.reason, options),
      );
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBodyBytes) {
      req.resume();
      return reply(
        res,
        413,
        failure('MF_BODY_TOO_LARGE', `request body over ${maxBodyBytes} bytes`, options),
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes) {
        req.destroy();
        return reply(
          res,
          413,
          failure('MF_BODY_TOO_LARGE', `request body over ${maxBodyBytes} bytes`, options),
        );
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const outcome = await handleCimRequest(api, body, options);
    const soap = soapVersionOf(body);
    const xml = soap ? wrapSoap(outcome.xml, soap) : outcome.xml;
    reply(
      res,
      outcome.reply.result === 'FAILED' ? 400 : 200,
      xml,
      soap === SOAP12_NS ? 'application/soap+xml' : 'text/xml',
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `${tls ? 'https' : 'http'}://${options.host}:${address.port}/cim`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function failure(code: string, reason: string, options: BridgeOptions): string {
  return encodeResponseMessage(
    { result: 'FAILED', errors: [{ code, level: 'FATAL', reason }] },
    { noun: 'Unknown', timestamp: isoUtc(options.clock.now()), source: options.source },
  );
}

function reply(res: ServerResponse, status: number, xml: string, contentType = 'text/xml'): void {
  res.writeHead(status, {
    'content-type': `${contentType}; charset=utf-8`,
    'content-length': Buffer.byteLength(xml),
  });
  res.end(xml);
}

/** The SOAP namespace when the body is a SOAP envelope (cheap test; the parser checks properly). */
function soapVersionOf(body: string): string | undefined {
  const head = body.slice(0, 2048);
  if (head.includes(SOAP12_NS) && /<(\w+:)?Envelope[\s>]/.test(head)) return SOAP12_NS;
  if (head.includes(SOAP11_NS) && /<(\w+:)?Envelope[\s>]/.test(head)) return SOAP11_NS;
  return undefined;
}

function wrapSoap(responseXml: string, ns: string): string {
  const inner = responseXml.replace(/^<\?xml[^>]*\?>\s*/, '');
  return `<?xml version="1.0" encoding="utf-8"?>\n<soap:Envelope xmlns:soap="${ns}"><soap:Body>${inner}</soap:Body></soap:Envelope>`;
}
