/**
 * Faults on links, as Toxiproxy toxics on the topology's proxies. `upstream` is the direction
 * of the link's calls (from → to), `downstream` their replies. A blackhole is a `timeout`
 * toxic with timeout 0: data is dropped and the connection hangs, as in a real partition;
 * removing it (heal) closes the hung connections so both sides reconnect.
 */
import type { Toxiproxy } from 'toxiproxy-node-client';
import { type Link, linkName } from './topology.js';

export type Direction = 'both' | 'one-way';

async function proxyOf(client: Toxiproxy, link: Link) {
  return client.get(linkName(link));
}

async function addToxic(
  client: Toxiproxy,
  link: Link,
  name: string,
  type: 'timeout' | 'latency' | 'bandwidth' | 'reset_peer',
  stream: 'upstream' | 'downstream',
  attributes: Record<string, number>,
  toxicity = 1,
): Promise<void> {
  const proxy = await proxyOf(client, link);
  await proxy.addToxic({ name, type, stream, toxicity, attributes });
}

/** Drops everything on the link (one-way: only from → to, so replies to old calls still flow). */
export async function blackhole(client: Toxiproxy, link: Link, direction: Direction = 'both'): Promise<void> {
  await addToxic(client, link, 'blackhole-up', 'timeout', 'upstream', { timeout: 0 });
  if (direction === 'both')
    await addToxic(client, link, 'blackhole-down', 'timeout', 'downstream', { timeout: 0 });
}

/** Lifts a blackhole from one link (either direction's toxic may be absent); removing it closes the hung connections. */
export async function removeBlackhole(client: Toxiproxy, link: Link): Promise<void> {
  const proxy = await proxyOf(client, link);
  for (const name of ['blackhole-up', 'blackhole-down']) {
    const toxic = await proxy.getToxic(name).catch(() => undefined);
    await toxic?.remove();
  }
}

/** Cuts `a` from `b` in both directions: a's calls to b and b's calls to a. */
export async function cut(client: Toxiproxy, a: string, b: string): Promise<void> {
  await blackhole(client, { from: a, to: b });
  await blackhole(client, { from: b, to: a });
}

export async function latency(
  client: Toxiproxy,
  link: Link,
  latencyMs: number,
  jitterMs: number,
): Promise<void> {
  await addToxic(client, link, 'latency-up', 'latency', 'upstream', { latency: latencyMs, jitter: jitterMs });
  await addToxic(client, link, 'latency-down', 'latency', 'downstream', {
    latency: latencyMs,
    jitter: jitterMs,
  });
}

export async function bandwidth(client: Toxiproxy, link: Link, rateKBps: number): Promise<void> {
  await addToxic(client, link, 'bandwidth-up', 'bandwidth', 'upstream', { rate: rateKBps });
  await addToxic(client, link, 'bandwidth-down', 'bandwidth', 'downstream', { rate: rateKBps });
}

/** Connections on the link are reset (RST) on their first data, with probability `toxicity`. */
export async function resetStorm(client: Toxiproxy, link: Link, toxicity: number): Promise<void> {
  await addToxic(client, link, 'rst', 'reset_peer', 'downstream', { timeout: 0 }, toxicity);
}

/** Removes every toxic and re-enables every proxy (POST /reset). */
export async function healAll(client: Toxiproxy): Promise<void> {
  await client.reset();
}
