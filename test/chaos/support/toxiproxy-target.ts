/**
 * The Toxiproxy server under test: a real Toxiproxy when TOXIPROXY_URL names one, otherwise
 * our own compatible server on a free loopback port. The suites drive either one through the
 * unmodified toxiproxy-node-client.
 */
import { Toxiproxy } from 'toxiproxy-node-client';
import { startToxiproxyServer } from '../../../chaos/toxiproxy/server.js';

export type ToxiproxyTarget = { url: string; client: Toxiproxy; usingReal: boolean; close(): Promise<void> };

export async function startToxiproxyTarget(): Promise<ToxiproxyTarget> {
  const external = process.env.TOXIPROXY_URL;
  if (external) {
    const client = new Toxiproxy(external);
    return { url: external, client, usingReal: true, close: () => removeAll(client) };
  }
  const server = await startToxiproxyServer({ host: '127.0.0.1', port: 0 });
  return {
    url: server.url,
    client: new Toxiproxy(server.url),
    usingReal: false,
    close: () => server.close(),
  };
}

export async function removeAll(client: Toxiproxy): Promise<void> {
  for (const proxy of Object.values(await client.getAll())) await proxy.remove();
}

/** The port of a proxy's resolved listen address ("127.0.0.1:PORT"). */
export function listenPort(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}
