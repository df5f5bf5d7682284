import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { WebhookSubscriberConfig } from './webhook-config.js';

/**
 * One webhook POST over http or https (optionally with a private CA and a client certificate),
 * bounded in time and in the response size read. Never throws: the outcome says whether the
 * receiver took the message (2xx) and, if not, why, for the retry log.
 */

export type PostOutcome = { ok: true; status: number } | { ok: false; status?: number; error: string };

export type WebhookTarget = {
  url: URL;
  agent: HttpAgent;
  post(
    body: Buffer,
    headers: Record<string, string>,
    limits: { timeoutMs: number; maxResponseBytes: number },
  ): { outcome: Promise<PostOutcome>; abort(): void };
  close(): void;
};

export function webhookTarget(config: WebhookSubscriberConfig): WebhookTarget {
  const url = new URL(config.url);
  const secure = url.protocol === 'https:';
  // Keep-alive: a busy subscriber should not pay a TLS handshake per message.
  const agent = secure
    ? new HttpsAgent({
        keepAlive: true,
        maxSockets: 1,
        ...(config.caPem !== undefined ? { ca: config.caPem } : {}),
        ...(config.clientCertPem !== undefined ? { cert: config.clientCertPem } : {}),
        ...(config.clientKeyPem !== undefined ? { key: config.clientKeyPem } : {}),
      })
    : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const send = secure ? httpsRequest : httpRequest;
  return {
    url,
    agent,
    close: () => agent.destroy(),
    post(body, headers, limits) {
      let req: ClientRequest | undefined;
      const outcome = new Promise<PostOutcome>((resolve) => {
        let settled = false;
        const done = (o: PostOutcome) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(o);
        };
        const timer = setTimeout(() => {
          req?.destroy();
          done({ ok: false, error: `no response within ${limits.timeoutMs} ms` });
        }, limits.timeoutMs);
        req = send(
          url,
          {
            method: 'POST',
            agent,
            headers: { ...headers, 'content-length': String(body.length) },
          },
          (res: IncomingMessage) => {
            const status = res.statusCode ?? 0;
            let read = 0;
            res.on('data', (chunk: Buffer) => {
              read += chunk.length;
              // The body is not used; past the bound, stop reading (the socket is dropped).
              if (read > limits.maxResponseBytes) res.destroy();
            });
            const finish = () =>
              done(
                status >= 200 && status < 300
                  ? { ok: true, status }
                  : { ok: false, status, error: `receiver answered HTTP ${status}` },
              );
            res.on('end', finish);
            res.on('close', finish);
            res.on('error', finish);
          },
        );
        req.on('error', (err: Error) => done({ ok: false, error: err.message }));
        req.end(body);
      });
      return { outcome, abort: () => req?.destroy() };
    },
  };
}
