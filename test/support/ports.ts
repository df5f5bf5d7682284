import { createServer, type Server } from 'node:net';

/**
 * Free loopback ports for tests. One implementation, in product code (chaos harnesses need it
 * too, and product code must not import from test/); tests keep their short names.
 */
export { freeLoopbackPort as freePort, freeLoopbackPorts as freePorts } from '../../chaos/nemesis/ports.js';

/**
 * The first of `count` consecutive ports on `host` that were all free a moment ago (for
 * `up --base-port`, a modem collector's bridge port range). Picked below the ephemeral range
 * (32768+), so no outgoing socket takes one of them meanwhile.
 */
export async function consecutiveFreePorts(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 12_000);
    const servers: Server[] = [];
    let ok = true;
    for (let port = first; port < first + count && ok; port++) {
      const server = createServer();
      ok = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(port, host, () => resolve(true));
      });
      if (ok) servers.push(server);
    }
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    if (ok) return first;
  }
  throw new Error(`no ${count} consecutive free ports found on ${host}`);
}
