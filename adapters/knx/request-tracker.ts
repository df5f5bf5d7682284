import type { Cemi, LDataFrame } from './cemi.js';
import { KnxError } from './errors.js';
import type { SessionAction } from './tunnel-types.js';

/**
 * Our requests on a tunnel, from queued to done: a bounded FIFO of requests not yet sent, and
 * the requests sent and waiting for their TUNNELLING_ACK and, for L_Data.req, the matching
 * L_Data.con (which knxd may send before or after the ACK). Pure; reports through `actions`.
 */

export type TrackedRequest = {
  id: number;
  cemi: Cemi;
  awaitConfirmation: boolean;
  acked: boolean;
  confirmation?: 'positive' | 'negative';
  confirmationDeadlineMs?: number;
};

function sameTelegram(a: LDataFrame, b: LDataFrame): boolean {
  if (a.destination !== b.destination || a.groupDestination !== b.groupDestination) return false;
  if (a.tpdu.tpci !== b.tpdu.tpci || a.tpdu.apci !== b.tpdu.apci) return false;
  return a.tpdu.data.length === b.tpdu.data.length && a.tpdu.data.every((v, i) => v === b.tpdu.data[i]);
}

export class RequestTracker {
  private readonly queue: TrackedRequest[] = [];
  private readonly inFlight: TrackedRequest[] = [];
  private nextId = 1;

  constructor(
    private readonly maxQueueLength: number,
    private readonly confirmationTimeoutMs: number,
    private readonly actions: SessionAction[],
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  enqueue(cemi: Cemi, awaitConfirmation: boolean): number {
    if (this.queue.length >= this.maxQueueLength) {
      throw new KnxError(
        'MF_KNX_QUEUE_FULL',
        `tunnel send queue is full (${this.maxQueueLength} requests); slow down or raise maxQueueLength`,
        { maxQueueLength: this.maxQueueLength },
      );
    }
    const id = this.nextId++;
    this.queue.push({ id, cemi, awaitConfirmation, acked: false });
    return id;
  }

  /** Takes the next queued request and starts its confirmation clock. */
  startNext(nowMs: number): TrackedRequest | undefined {
    const next = this.queue.shift();
    if (!next) return undefined;
    if (next.awaitConfirmation) next.confirmationDeadlineMs = nowMs + this.confirmationTimeoutMs;
    this.inFlight.push(next);
    return next;
  }

  acknowledged(request: TrackedRequest): void {
    request.acked = true;
    this.finishIfComplete(request);
  }

  /** An incoming L_Data.con: completes the oldest matching request still waiting for one. */
  confirmation(con: LDataFrame): void {
    const request = this.inFlight.find(
      (r) =>
        r.awaitConfirmation &&
        r.confirmation === undefined &&
        r.cemi.kind === 'ldata' &&
        sameTelegram(r.cemi, con),
    );
    if (!request) return;
    request.confirmation = con.confirmError ? 'negative' : 'positive';
    this.finishIfComplete(request);
  }

  private finishIfComplete(r: TrackedRequest): void {
    if (!r.acked || (r.awaitConfirmation && r.confirmation === undefined)) return;
    this.remove(r);
    const confirmation = r.awaitConfirmation ? r.confirmation! : 'not-requested';
    this.actions.push({ type: 'request-done', id: r.id, outcome: { confirmation } });
  }

  private remove(r: TrackedRequest): void {
    const index = this.inFlight.indexOf(r);
    if (index >= 0) this.inFlight.splice(index, 1);
  }

  fail(r: TrackedRequest, error: KnxError): void {
    this.remove(r);
    this.actions.push({ type: 'request-failed', id: r.id, error });
  }

  /** Fails requests whose L_Data.con is overdue (the tunnel stays up). */
  expire(nowMs: number): void {
    for (const r of [...this.inFlight]) {
      if (
        r.confirmationDeadlineMs !== undefined &&
        r.confirmation === undefined &&
        nowMs >= r.confirmationDeadlineMs
      ) {
        this.fail(
          r,
          new KnxError(
            'MF_KNX_TIMEOUT',
            `no L_Data.con within ${this.confirmationTimeoutMs} ms: the telegram may not have reached the bus`,
          ),
        );
      }
    }
  }

  nextDeadlineMs(): number | undefined {
    let next: number | undefined;
    for (const r of this.inFlight) {
      const t = r.confirmation === undefined ? r.confirmationDeadlineMs : undefined;
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /**
   * The tunnel closed. Requests already sent may or may not have reached the bus: they fail
   * rather than being sent twice. Queued ones survive a reconnect, and fail on a final close.
   */
  closed(error: KnxError, final: boolean): void {
    for (const r of [...this.inFlight]) this.fail(r, error);
    if (final)
      for (const r of this.queue.splice(0)) this.actions.push({ type: 'request-failed', id: r.id, error });
  }
}
