import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

/** Thin promise wrappers over node:dgram used by the KNX drivers. */

export function bindUdp(host: string, port: number, reuseAddr = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', reuseAddr });
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export function sendUdp(socket: Socket, bytes: Uint8Array, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.send(bytes, port, host, (err) => (err ? reject(err) : resolve()));
  });
}

export function closeUdp(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** The local IPv4 address the OS would use to reach `host` (a connected UDP socket sends nothing). */
export async function localAddressFor(host: string, port: number): Promise<string> {
  const probe = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.connect(port, host, () => resolve());
    });
    return probe.address().address;
  } finally {
    await closeUdp(probe);
  }
}

export type { RemoteInfo, Socket };
