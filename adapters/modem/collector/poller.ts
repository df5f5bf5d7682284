import type { Socket } from 'node:net';
import type { ModemErrorCode } from '../errors.js';
import type { Poller } from './modem-session.js';

/** Wraps a polling client's socket; a refusal writes one notice line (if configured) and closes. */
export function socketPoller(socket: Socket, remote: string, refusalNotice: boolean): Poller {
  return {
    stream: socket,
    remote,
    refuse(code: ModemErrorCode, message: string) {
      if (socket.destroyed) return;
      if (refusalNotice) socket.end(`MF-REFUSED ${code} ${message.replace(/[\r\n]+/g, ' ')}\r\n`);
      else socket.end();
      // A client that never reads must not keep the socket open.
      setTimeout(() => socket.destroy(), 2000).unref();
    },
  };
}
