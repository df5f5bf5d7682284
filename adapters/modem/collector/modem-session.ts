import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ModemError, type ModemErrorCode } from '../errors.js';

/** A polling client waiting for or using a modem: a local socket or a forwarded stream. */
export type Poller = {
  stream: Duplex;
  /** Client address for logs and events. */
  remote: string;
  /** Tells the poller why it is turned away, then closes it. */
  refuse(code: ModemErrorCode, message: string): void;
};

export type SessionLimits = {
  pollerPolicy: 'queue' | 'refuse';
  maxQueuedPollers: number;
  pollerQueueTimeoutMs: number;
};

export type SessionListener = {
  attached(poller: Poller): void;
  detached(poller: Poller): void;
  refused(poller: Poller, error: ModemError): void;
};

/**
 * One connected modem and the polling client bridged to it. Bytes flow both ways unchanged
 * through stream.pipe, which carries backpressure: a slow poller pauses the modem socket and
 * vice versa. One poller at a time; others wait in a bounded FIFO or are refused.
 */
export class ModemSession {
  bytesFromModem = 0;
  bytesToModem = 0;
  lastActivityMs: number;
  /** Set once this connection's counters went to the registry: they are added exactly once. */
  persisted = false;
  private active: Poller | null = null;
  private readonly queue: Array<{ poller: Poller; timer: NodeJS.Timeout }> = [];
  private closed = false;

  constructor(
    readonly imei: string,
    readonly socket: Socket,
    readonly connectedAtMs: number,
    private readonly limits: SessionLimits,
    private readonly listener: SessionListener,
    private readonly now: () => number,
  ) {
    this.lastActivityMs = connectedAtMs;
    // Counting on 'data' keeps the socket flowing when no poller is attached: bytes a modem
    // sends with nobody listening (its own keepalives, a meter's late answer) are dropped.
    socket.on('data', (chunk: Buffer) => {
      this.bytesFromModem += chunk.length;
      this.lastActivityMs = this.now();
    });
  }

  get hasPoller(): boolean {
    return this.active !== null;
  }

  get queuedPollers(): number {
    return this.queue.length;
  }

  offer(poller: Poller): void {
    if (this.closed) {
      poller.refuse('MF_MODEM_OFFLINE', `modem ${this.imei} went offline`);
      return;
    }
    if (!this.active) {
      this.attach(poller);
      return;
    }
    if (this.limits.pollerPolicy === 'refuse' || this.queue.length >= this.limits.maxQueuedPollers) {
      const error = new ModemError(
        'MF_MODEM_BUSY',
        this.limits.pollerPolicy === 'refuse'
          ? `modem ${this.imei} is being polled by another client; try again when it is done`
          : `modem ${this.imei} is busy and ${this.queue.length} clients already wait; try again later`,
        { imei: this.imei },
      );
      this.listener.refused(poller, error);
      poller.refuse(error.code, error.message);
      return;
    }
    // Paused: what the waiting poller sends stays in its socket buffer and reaches the
    // meter in order once it is its turn.
    poller.stream.pause();
    const timer = setTimeout(() => {
      this.dequeue(poller);
      const error = new ModemError(
        'MF_MODEM_BUSY',
        `modem ${this.imei} stayed busy for ${this.limits.pollerQueueTimeoutMs} ms; try again later`,
        { imei: this.imei },
      );
      this.listener.refused(poller, error);
      poller.refuse(error.code, error.message);
    }, this.limits.pollerQueueTimeoutMs);
    this.queue.push({ poller, timer });
    poller.stream.once('close', () => this.dequeue(poller));
  }

  private dequeue(poller: Poller): void {
    const i = this.queue.findIndex((q) => q.poller === poller);
    if (i >= 0) {
      clearTimeout(this.queue[i]!.timer);
      this.queue.splice(i, 1);
    }
  }

  private attach(poller: Poller): void {
    this.active = poller;
    const { stream } = poller;
    const countToModem = (chunk: Buffer) => {
      this.bytesToModem += chunk.length;
      this.lastActivityMs = this.now();
    };
    stream.on('data', countToModem);
    stream.pipe(this.socket, { end: false });
    this.socket.pipe(stream, { end: false });
    stream.resume();
    const done = () => {
      if (this.active !== poller) return;
      stream.off('data', countToModem);
      stream.unpipe(this.socket);
      this.socket.unpipe(stream);
      // Unpiping can leave the modem socket paused by backpressure from a poller that is gone.
      this.socket.resume();
      this.active = null;
      this.listener.detached(poller);
      this.next();
    };
    stream.once('close', done);
    stream.once('end', () => stream.destroy());
    stream.once('error', () => stream.destroy());
    this.listener.attached(poller);
  }

  private next(): void {
    const waiting = this.queue.shift();
    if (!waiting || this.closed) return;
    clearTimeout(waiting.timer);
    this.attach(waiting.poller);
  }

  /** The modem is gone (or replaced): end the active poller and refuse the queued ones. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const { poller, timer } of this.queue.splice(0)) {
      clearTimeout(timer);
      poller.refuse('MF_MODEM_OFFLINE', `modem ${this.imei} disconnected (${reason})`);
    }
    this.active?.stream.end();
    this.socket.destroy();
  }
}
