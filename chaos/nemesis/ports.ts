import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). Another process may
 * take it before the caller binds it: where the caller can bind port 0 itself, it should.
 * The tests' `freePort` (test/support/ports.ts) is this function.
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free loopback ports. */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freeLoopbackPort());
  return [...ports];
}
