import { createServer } from 'node:net';
import { freeLoopbackPort } from '../../chaos/nemesis/ports.js';

/**
 * Free loopback ports for tests. One implementation, in product code (chaos harnesses need it
 * too, and product code must not import from test/); tests keep their short names.
 */
export { freeLoopbackPort as freePort, freeLoopbackPorts as freePorts } from '../../chaos/nemesis/ports.js';

/** The first of `count` consecutive loopback ports that were all free a moment ago (for `up --base-port`). */
export async function consecutiveFreePorts(count: number): Promise<number> {
  const host = '127.0.0.1';
  const isFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer().once('error', () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = await freeLoopbackPort();
    if (base + count > 65_000) continue;
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => isFree(base + 1 + i)));
    if (rest.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found on ${host}`);
}
