import { createServer } from 'node:net';

export type AbsentNode = { address: string; close(): Promise<void> };

/**
 * Where the links into a node point while it is not listening (before its first start, after
 * a kill, until a restarted node reports its new port): a loopback listener that closes every
 * connection at once, as a dead node's address does through Toxiproxy (connect, then EOF).
 * It is held for the whole run, so unlike a dead node's old port no other process can take it
 * and receive our nodes' traffic.
 */
export async function startAbsentNode(): Promise<AbsentNode> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
