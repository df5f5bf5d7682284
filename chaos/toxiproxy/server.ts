/**
 * The Toxiproxy HTTP API (Shopify/toxiproxy 2.12 api.go) on node:http: same routes, status
 * codes, JSON shapes and error bodies, so any Toxiproxy client (toxiproxy-node-client included)
 * drives it unchanged. `startToxiproxyServer()` is the one entry point.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { ApiError, badRequestBody, errToxicNotFound } from './api-error.js';
import { ProxyCollection } from './collection.js';
import { formatHostPort, parseHostPort } from './proxy.js';
import type { StageEnv } from './stages.js';
import { toxicToJson } from './toxic-types.js';

/** The API version we answer with: the Toxiproxy release whose behaviour we follow. */
export const toxiproxyCompatibleVersion = '2.12.0';
/** Toxiproxy's own default API address. */
export const defaultToxiproxyHost = 'localhost';
export const defaultToxiproxyPort = 8474;
/** Request bodies are small JSON documents; anything larger is refused. */
export const maxRequestBodyBytes = 1024 * 1024;
/** Go wraps every handler in http.TimeoutHandler(25 s). */
export const handlerTimeoutMs = 25_000;

export type ToxiproxyServerOptions = {
  host?: string;
  port?: number;
  logger?: Logger;
  /** Timers and randomness for the toxics (tests inject a manual scheduler). */
  env?: StageEnv;
};

export type ToxiproxyServer = {
  /** "http://host:port" for clients. */
  url: string;
  host: string;
  port: number;
  collection: ProxyCollection;
  close(): Promise<void>;
};

type Reply = { status: number; body?: unknown; contentType?: string; raw?: string };

function json(status: number, body: unknown): Reply {
  return { status, body };
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of request) {
    size += (part as Buffer).length;
    if (size > maxRequestBodyBytes) throw badRequestBody(`body larger than ${maxRequestBodyBytes} bytes`);
    parts.push(part as Buffer);
  }
  const text = Buffer.concat(parts).toString('utf8');
  if (text.trim().length === 0) throw badRequestBody('EOF');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequestBody((err as Error).message);
  }
}

type Route = {
  pattern: RegExp;
  methods: Record<string, (params: string[], request: IncomingMessage) => Promise<Reply>>;
};

function buildRoutes(collection: ProxyCollection): Route[] {
  const routes = baseRoutes(collection);
  // PATCH is the current verb for updating a proxy or a toxic; POST is deprecated but accepted.
  for (const route of routes.slice(3)) {
    const update = route.methods.POST;
    if (update && route.methods.DELETE) route.methods.PATCH = update;
  }
  return routes;
}

function baseRoutes(collection: ProxyCollection): Route[] {
  const run = <T>(operation: () => Promise<T> | T) => collection.serialize(operation);
  return [
    {
      pattern: /^\/reset$/,
      methods: {
        POST: () =>
          run(async () => {
            await collection.reset();
            return { status: 204 };
          }),
      },
    },
    {
      pattern: /^\/proxies$/,
      methods: {
        GET: async () =>
          json(200, Object.fromEntries(collection.all().map((proxy) => [proxy.name, proxy.toJson()]))),
        POST: async (_params, request) => {
          const body = await readBody(request);
          return run(async () => json(201, (await collection.create(body)).toJson()));
        },
      },
    },
    {
      pattern: /^\/populate$/,
      methods: {
        POST: async (_params, request) =>
          run(async () => {
            let result: Awaited<ReturnType<ProxyCollection['populate']>>;
            try {
              result = await collection.populate(await readBody(request));
            } catch (error) {
              result = { proxies: [], error };
            }
            // Go marshals a nil slice as null: an empty or failed populate says "proxies": null.
            const proxies = result.proxies.length > 0 ? result.proxies.map((proxy) => proxy.toJson()) : null;
            if (result.error === undefined) return json(201, { proxies });
            const apiError =
              result.error instanceof ApiError ? result.error : new ApiError(String(result.error), 500);
            return json(apiError.status, { ...apiError.body(), proxies });
          }),
      },
    },
    {
      pattern: /^\/proxies\/([^/]+)$/,
      methods: {
        GET: async ([name]) => json(200, collection.get(name as string).toJson()),
        POST: async ([name], request) => {
          const body = await readBodyAfter(() => collection.get(name as string), request);
          return run(async () => json(200, (await collection.update(name as string, body)).toJson()));
        },
        DELETE: async ([name]) =>
          run(() => {
            collection.remove(name as string);
            return { status: 204 };
          }),
      },
    },
    {
      pattern: /^\/proxies\/([^/]+)\/toxics$/,
      methods: {
        GET: async ([name]) =>
          json(
            200,
            collection
              .get(name as string)
              .toxics()
              .map(toxicToJson),
          ),
        POST: async ([name], request) => {
          const body = await readBodyAfter(() => collection.get(name as string), request);
          return run(() => json(200, toxicToJson(collection.get(name as string).addToxic(body))));
        },
      },
    },
    {
      pattern: /^\/proxies\/([^/]+)\/toxics\/([^/]+)$/,
      methods: {
        GET: async ([name, toxic]) => {
          const spec = collection.get(name as string).getToxic(toxic as string);
          if (!spec) throw errToxicNotFound;
          return json(200, toxicToJson(spec));
        },
        POST: async ([name, toxic], request) => {
          const body = await readBodyAfter(() => {
            if (!collection.get(name as string).getToxic(toxic as string)) throw errToxicNotFound;
          }, request);
          return run(() =>
            json(200, toxicToJson(collection.get(name as string).updateToxic(toxic as string, body))),
          );
        },
        DELETE: async ([name, toxic]) =>
          run(() => {
            collection.get(name as string).removeToxic(toxic as string);
            return { status: 204 };
          }),
      },
    },
    {
      pattern: /^\/version$/,
      methods: {
        GET: async () => ({
          status: 200,
          raw: `{"version": "${toxiproxyCompatibleVersion}"}\n`,
          contentType: 'application/json;charset=utf-8',
        }),
      },
    },
  ];
}

/** Go looks the proxy up (404) before it decodes the body (400). */
async function readBodyAfter(lookup: () => unknown, request: IncomingMessage): Promise<unknown> {
  lookup();
  return readBody(request);
}

function send(response: ServerResponse, reply: Reply): void {
  if (reply.raw !== undefined) {
    response.writeHead(reply.status, { 'Content-Type': reply.contentType ?? 'text/plain; charset=utf-8' });
    response.end(reply.raw);
    return;
  }
  if (reply.body === undefined) {
    response.writeHead(reply.status);
    response.end();
    return;
  }
  response.writeHead(reply.status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(reply.body));
}

/** Go's http.Error: text/plain, nosniff, the message and a newline. */
function sendError(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(`${message}\n`);
}

async function handle(routes: Route[], request: IncomingMessage, response: ServerResponse, logger: Logger) {
  if ((request.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
    sendError(response, 403, 'User agent not allowed');
    return;
  }
  const path = new URL(request.url ?? '/', 'http://toxiproxy').pathname;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    const handler = route.methods[request.method ?? 'GET'];
    if (!handler) {
      // gorilla/mux: a known path with another method is 405 with an empty body.
      response.writeHead(405);
      response.end();
      return;
    }
    const params = match.slice(1).map((part) => decodeURIComponent(part));
    try {
      send(response, await handler(params, request));
    } catch (err) {
      const apiError =
        err instanceof ApiError ? err : new ApiError(String((err as Error)?.message ?? err), 500);
      if (!(err instanceof ApiError)) logger.warn({ err }, 'toxiproxy: error did not include status code');
      sendError(response, apiError.status, JSON.stringify(apiError.body()));
    }
    return;
  }
  sendError(response, 404, '404 page not found');
}

/** Starts the API server; proxies it creates are stopped by `close()`. */
export async function startToxiproxyServer(options: ToxiproxyServerOptions = {}): Promise<ToxiproxyServer> {
  const logger = options.logger ?? silentLogger;
  const collection = new ProxyCollection(options.env);
  const routes = buildRoutes(collection);
  const address = parseHostPort(
    formatHostPort({
      host: options.host ?? defaultToxiproxyHost,
      port: options.port ?? defaultToxiproxyPort,
    }),
  );
  const server: Server = createServer((request, response) => {
    const timer = setTimeout(() => {
      if (!response.headersSent) sendError(response, 503, '');
    }, handlerTimeoutMs);
    handle(routes, request, response, logger)
      .catch((err: unknown) => {
        logger.error({ err }, 'toxiproxy: request failed');
        if (!response.headersSent) sendError(response, 500, 'internal error');
      })
      .finally(() => clearTimeout(timer));
  });
  server.requestTimeout = handlerTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  const port = bound && typeof bound === 'object' ? bound.port : address.port;
  const url = `http://${formatHostPort({ host: address.host, port })}`;
  logger.info({ url }, 'toxiproxy-compatible API listening');
  return {
    url,
    host: address.host,
    port,
    collection,
    async close() {
      collection.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
