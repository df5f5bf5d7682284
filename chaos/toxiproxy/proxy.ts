/**
 * One named proxy: a TCP listener, its open connections and its toxics (Go's ToxicProxy plus
 * ToxicCollection). Toxic changes reach the connections that are already open.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ApiError, errToxicNotFound } from './api-error.js';
import { Connection } from './connection.js';
import { realStageEnv, type StageEnv } from './stages.js';
import {
  type Direction,
  parseNewToxic,
  parseToxicUpdate,
  type ToxicJson,
  type ToxicSpec,
  toxicToJson,
} from './toxic-types.js';

export type ProxyJson = {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxicJson[];
};

export type HostPort = { host: string; port: number };

/**
 * Splits "host:port" / "[v6]:port". "localhost" means 127.0.0.1, as Go's listener resolves it;
 * an empty host also means 127.0.0.1 (Go would bind every interface; we bind only loopback so
 * that a proxy is never exposed by accident).
 */
export function parseHostPort(text: string): HostPort {
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (!match) throw new ApiError(`address ${text}: missing port in address`, 500);
  const rawHost = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port > 65535) throw new ApiError(`address ${text}: invalid port`, 500);
  const host = rawHost === '' || rawHost === 'localhost' ? '127.0.0.1' : rawHost;
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class ToxicProxy {
  readonly name: string;
  listen: string;
  upstream: string;
  enabled = false;
  private readonly chains: Record<Direction, ToxicSpec[]> = { upstream: [], downstream: [] };
  private server: Server | undefined;
  private readonly connections = new Set<Connection>();

  constructor(
    name: string,
    listen: string,
    upstream: string,
    private readonly env: StageEnv = realStageEnv,
  ) {
    this.name = name;
    this.listen = listen;
    this.upstream = upstream;
  }

  toJson(): ProxyJson {
    return {
      name: this.name,
      listen: this.listen,
      upstream: this.upstream,
      enabled: this.enabled,
      toxics: this.toxics().map(toxicToJson),
    };
  }

  /** Upstream chain first, then downstream, as Go's GetToxicArray lists them. */
  toxics(): ToxicSpec[] {
    return [...this.chains.upstream, ...this.chains.downstream];
  }

  connectionCount(): number {
    return this.connections.size;
  }

  /** Go's Differs: listen compared in resolved form, upstream as text. */
  differs(listen: string, upstream: string): boolean {
    return this.listen !== formatHostPort(parseHostPort(listen)) || this.upstream !== upstream;
  }

  async start(): Promise<void> {
    if (this.enabled) return;
    const address = parseHostPort(this.listen);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) =>
      this.accept(client),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new ApiError(`listen tcp ${this.listen}: ${err.code ?? err.message}`, 500)),
      );
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => resolve());
    });
    server.on('error', () => {});
    const bound = server.address();
    if (bound && typeof bound === 'object')
      this.listen = formatHostPort({ host: bound.address, port: bound.port });
    this.server = server;
    this.enabled = true;
  }

  /** Go's stop(): closes the listener (new connections are refused) and every open connection. */
  stop(): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.server?.close();
    this.server = undefined;
    for (const connection of [...this.connections]) connection.close();
  }

  private accept(client: Socket): void {
    client.on('error', () => client.destroy());
    let target: HostPort;
    try {
      target = parseHostPort(this.upstream);
    } catch {
      client.destroy();
      return;
    }
    // The upstream is dialled only now; if that fails the client sees its connect succeed, then EOF.
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const onDialError = () => {
      upstream.destroy();
      client.end(() => client.destroy());
    };
    upstream.once('error', onDialError);
    upstream.once('connect', () => {
      upstream.off('error', onDialError);
      if (!this.enabled || client.destroyed) {
        upstream.destroy();
        client.destroy();
        return;
      }
      const resetOnClose = this.toxics().some((spec) => spec.type === 'reset_peer');
      const connection = new Connection(
        client,
        upstream,
        { upstream: [...this.chains.upstream], downstream: [...this.chains.downstream] },
        resetOnClose,
        this.env,
        (done) => this.connections.delete(done),
      );
      this.connections.add(connection);
      client.resume();
    });
  }

  getToxic(name: string): ToxicSpec | undefined {
    return this.toxics().find((spec) => spec.name === name);
  }

  addToxic(body: unknown): ToxicSpec {
    const spec = parseNewToxic(body, (name) => this.getToxic(name) !== undefined);
    this.chains[spec.direction].push(spec);
    for (const connection of this.connections) connection.link(spec.direction).addToxic(spec);
    return spec;
  }

  updateToxic(name: string, body: unknown): ToxicSpec {
    const current = this.getToxic(name);
    if (!current) throw errToxicNotFound;
    const updated = parseToxicUpdate(current, body);
    const chain = this.chains[current.direction];
    chain[chain.indexOf(current)] = updated;
    for (const connection of this.connections) connection.link(updated.direction).updateToxic(updated);
    return updated;
  }

  removeToxic(name: string): void {
    const current = this.getToxic(name);
    if (!current) throw errToxicNotFound;
    const chain = this.chains[current.direction];
    chain.splice(chain.indexOf(current), 1);
    for (const connection of [...this.connections]) connection.link(current.direction).removeToxic(name);
  }

  resetToxics(): void {
    for (const spec of this.toxics()) this.removeToxic(spec.name);
  }
}
