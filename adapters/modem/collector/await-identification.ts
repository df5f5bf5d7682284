import type { Socket } from 'node:net';
import { isMeterfabricError } from '../../../core/errors.js';
import { ModemError } from '../errors.js';
import {
  type IdentificationConfig,
  type ModemIdentification,
  parseIdentification,
  printable,
} from '../identification.js';

export type IdentificationOutcome = {
  identified(identification: ModemIdentification): void;
  rejected(error: ModemError): void;
  /** A bug while parsing: the connection is dropped, the node goes on. */
  failed(err: unknown): void;
  /** Called once the socket is no longer waiting (identified, rejected, failed or closed). */
  settled(): void;
};

/**
 * Reads a fresh modem connection until its identification is complete, bounded in bytes and
 * time. On success the socket is paused so no byte is lost before the session takes it over.
 */
export function awaitIdentification(
  socket: Socket,
  config: IdentificationConfig,
  timeoutMs: number,
  outcome: IdentificationOutcome,
): void {
  let buffered: Buffer = Buffer.alloc(0);
  let done = false;
  const finish = () => {
    if (done) return false;
    done = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    outcome.settled();
    return true;
  };
  const timer = setTimeout(() => {
    if (!finish()) return;
    outcome.rejected(
      new ModemError(
        'MF_MODEM_IDENT_TIMEOUT',
        `no identification within ${timeoutMs} ms (received "${printable(buffered.toString('latin1'))}")`,
      ),
    );
  }, timeoutMs);
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    try {
      const result = parseIdentification(buffered, config);
      if (result.status === 'incomplete') return;
      socket.pause();
      if (finish()) outcome.identified(result.identification);
    } catch (err) {
      if (!finish()) return;
      if (isMeterfabricError(err)) outcome.rejected(err as ModemError);
      else outcome.failed(err);
    }
  };
  const onClose = () => finish();
  socket.on('data', onData);
  socket.on('close', onClose);
}
