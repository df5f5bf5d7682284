import type { MeterfabricError } from '../../../core/errors.js';
import type { DeframeResult } from '../can/canet.js';
import type { CanFrame } from '../can/frame.js';
import type { Rs485Frame } from '../rs485/frame.js';

/**
 * One interface for every way a battery is reached: an in-memory bus (tests), TCP to a CAN
 * gateway or an RS485 serial server, SocketCAN. Messages are already framed: CanFrame for CAN,
 * Rs485Frame for RS485. Stream errors (garbage, bad checksums) arrive as 'error' events and the
 * transport keeps going: one bad frame never closes a link.
 */
export type TransportEvent<M> =
  | { type: 'message'; message: M }
  | { type: 'error'; error: MeterfabricError }
  | { type: 'closed'; reason?: MeterfabricError };

export interface Transport<M> {
  /** For logs and errors: "canet tcp 127.0.0.1:4000", "memory:sim". */
  readonly description: string;
  send(message: M): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(listener: (event: TransportEvent<M>) => void): () => void;
  close(): Promise<void>;
}

export type CanTransport = Transport<CanFrame>;
export type Rs485Transport = Transport<Rs485Frame>;

/** How messages of type M travel over a byte stream (TCP, serial). */
export interface WireFormat<M> {
  readonly name: string;
  encode(message: M): Uint8Array;
  createDeframer(): { push(chunk: Uint8Array): DeframeResult<M>[] };
}

/** Fan-out of transport events to subscribers; a throwing listener does not starve the others. */
export class Listeners<M> {
  private readonly set = new Set<(event: TransportEvent<M>) => void>();

  add(listener: (event: TransportEvent<M>) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  emit(event: TransportEvent<M>): void {
    for (const listener of [...this.set]) {
      try {
        listener(event);
      } catch {
        // A subscriber's bug must not break delivery to the others or the socket loop.
      }
    }
  }

  clear(): void {
    this.set.clear();
  }
}
