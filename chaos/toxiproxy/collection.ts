/**
 * The set of proxies by name (Go's ProxyCollection): guards duplicate names and implements
 * create, populate (add-or-replace), remove and reset. Operations are serialized so that two
 * API calls never interleave halfway through a start or a replace.
 */
import { badRequestBody, errProxyAlreadyExists, errProxyNotFound, missingField } from './api-error.js';
import { ToxicProxy } from './proxy.js';
import type { StageEnv } from './stages.js';

export type ProxyInput = { name: string; listen: string; upstream: string; enabled: boolean };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(body: Record<string, unknown>, field: string, fallback: string): string {
  const value = body[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') {
    throw badRequestBody(
      `json: cannot unmarshal ${typeof value} into Go struct field ToxicProxy.${field} of type string`,
    );
  }
  return value;
}

function boolField(body: Record<string, unknown>, field: string, fallback: boolean): boolean {
  const value = body[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    throw badRequestBody(
      `json: cannot unmarshal ${typeof value} into Go struct field ToxicProxy.${field} of type bool`,
    );
  }
  return value;
}

/** Decodes a proxy body over `defaults`, as json.Decode into a pre-filled Go struct does. */
export function decodeProxyInput(body: unknown, defaults: ProxyInput): ProxyInput {
  if (!isObject(body))
    throw badRequestBody('json: cannot unmarshal into Go value of type toxiproxy.ToxicProxy');
  return {
    name: stringField(body, 'name', defaults.name),
    listen: stringField(body, 'listen', defaults.listen),
    upstream: stringField(body, 'upstream', defaults.upstream),
    enabled: boolField(body, 'enabled', defaults.enabled),
  };
}

export class ProxyCollection {
  private readonly proxies = new Map<string, ToxicProxy>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly env?: StageEnv) {}

  /** Runs `operation` after every earlier one has finished. */
  serialize<T>(operation: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(operation, operation);
    this.tail = result.catch(() => undefined);
    return result;
  }

  all(): ToxicProxy[] {
    return [...this.proxies.values()];
  }

  get(name: string): ToxicProxy {
    const proxy = this.proxies.get(name);
    if (!proxy) throw errProxyNotFound;
    return proxy;
  }

  async create(body: unknown): Promise<ToxicProxy> {
    const input = decodeProxyInput(body, { name: '', listen: '', upstream: '', enabled: true });
    if (input.name.length < 1) throw missingField('name');
    if (input.upstream.length < 1) throw missingField('upstream');
    if (this.proxies.has(input.name)) throw errProxyAlreadyExists;
    const proxy = new ToxicProxy(input.name, input.listen, input.upstream, this.env);
    if (input.enabled) await proxy.start();
    this.proxies.set(proxy.name, proxy);
    return proxy;
  }

  /** Go's ToxicProxy.Update: a changed listen/upstream restarts the proxy; `enabled` starts or stops it. */
  async update(name: string, body: unknown): Promise<ToxicProxy> {
    const proxy = this.get(name);
    const input = decodeProxyInput(body, {
      name: proxy.name,
      listen: proxy.listen,
      upstream: proxy.upstream,
      enabled: proxy.enabled,
    });
    if (proxy.differs(input.listen, input.upstream)) {
      proxy.stop();
      proxy.listen = input.listen;
      proxy.upstream = input.upstream;
    }
    if (input.enabled !== proxy.enabled) {
      if (input.enabled) await proxy.start();
      else proxy.stop();
    }
    return proxy;
  }

  remove(name: string): void {
    const proxy = this.get(name);
    proxy.stop();
    this.proxies.delete(name);
  }

  /**
   * Go's PopulateJson: validates every entry before creating any; a same-name proxy whose
   * listen and upstream are unchanged is kept as it is (toxics included), otherwise replaced.
   * On failure the proxies handled so far are returned with the error.
   */
  async populate(body: unknown): Promise<{ proxies: ToxicProxy[]; error?: unknown }> {
    if (!Array.isArray(body)) {
      throw badRequestBody(
        'json: cannot unmarshal object into Go value of type []struct { toxiproxy.ToxicProxy }',
      );
    }
    const inputs = body.map((entry) =>
      decodeProxyInput(entry, { name: '', listen: '', upstream: '', enabled: true }),
    );
    inputs.forEach((input, i) => {
      if (input.name.length < 1) throw missingField(`name at proxy ${i + 1}`);
      if (input.upstream.length < 1) throw missingField(`upstream at proxy ${i + 1}`);
    });
    const done: ToxicProxy[] = [];
    for (const input of inputs) {
      try {
        const existing = this.proxies.get(input.name);
        if (existing) {
          if (!existing.differs(input.listen, input.upstream)) {
            done.push(existing);
            continue;
          }
          existing.stop();
        }
        const proxy = new ToxicProxy(input.name, input.listen, input.upstream, this.env);
        if (input.enabled) await proxy.start();
        this.proxies.set(proxy.name, proxy);
        done.push(proxy);
      } catch (error) {
        return { proxies: done, error };
      }
    }
    return { proxies: done };
  }

  /** POST /reset: every proxy enabled again and every toxic removed; proxies are kept. */
  async reset(): Promise<void> {
    for (const proxy of this.proxies.values()) {
      await proxy.start();
      proxy.resetToxics();
    }
  }

  /** Stops every proxy (server shutdown). */
  clear(): void {
    for (const proxy of this.proxies.values()) proxy.stop();
    this.proxies.clear();
  }
}
