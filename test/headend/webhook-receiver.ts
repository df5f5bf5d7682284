import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CimPublisher } from '../../actors/integration/cim-publisher.js';
import type { OutputBatch } from '../../actors/integration/output-batch.js';
import { ManualClock } from '../../core/clock.js';

/**
 * A real local HTTP(S) webhook receiver for the webhook tests: records every request (headers
 * and raw body) and answers with the status `respond` picks (default 200).
 */

export type Received = { headers: IncomingHttpHeaders; body: string };

export type Receiver = {
  url: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
};

export async function startReceiver(
  options: {
    port?: number;
    /** Status to answer, or 'hang' to never answer (a stuck receiver). */
    respond?: (request: Received, index: number) => number | 'hang';
    /** HTTPS; with clientCaPem, only clients with a certificate from that CA get through. */
    tls?: { certPem: string; keyPem: string; clientCaPem?: string };
  } = {},
): Promise<Receiver> {
  const received: Received[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      const status = options.respond?.(r, received.length - 1) ?? 200;
      if (status === 'hang') return;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  };
  const server: Server = options.tls
    ? createHttpsServer(
        {
          cert: options.tls.certPem,
          key: options.tls.keyPem,
          ...(options.tls.clientCaPem
            ? { ca: options.tls.clientCaPem, requestCert: true, rejectUnauthorized: true }
            : {}),
        },
        handler,
      )
    : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/hook`,
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function newPublisher(maxRetainedMessages?: number): CimPublisher {
  return new CimPublisher({
    source: 'webhook-test',
    clock: new ManualClock(Date.UTC(2026, 2, 10)),
    ...(maxRetainedMessages !== undefined ? { maxRetainedMessages } : {}),
  });
}

/** One MeterReadings message (one register reading of `meter`). */
export function readingBatch(meter: string, value = 1): OutputBatch {
  return {
    csv: {},
    readings: [
      {
        meterSerial: meter,
        kind: 'register',
        quantity: { source: 'obis', code: '1.8.0' },
        value,
        unit: 'kWh',
        timestampMs: Date.UTC(2026, 2, 10, 1),
      },
    ],
    events: [],
  };
}

/** One EndDeviceEvents message carrying `correlationId`. */
export function eventBatch(meter: string, correlationId: string): OutputBatch {
  return {
    csv: {},
    readings: [],
    events: [
      {
        deviceId: meter,
        deviceKind: 'meter',
        key: 'meter.relayOpened',
        phase: 'occurred',
        timestampMs: Date.UTC(2026, 2, 10, 2),
        correlationId,
      },
    ],
  };
}
