import { createServer } from 'node:net';

/** A TCP port that was free a moment ago on `host` (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

/** The first of `count` consecutive ports that were all free a moment ago (for `up --base-port`). */
export async function consecutiveFreePorts(count: number, host = '127.0.0.1'): Promise<number> {
  const isFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer().once('error', () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = await freePort(host);
    if (base + count > 65_000) continue;
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => isFree(base + 1 + i)));
    if (rest.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found on ${host}`);
}
