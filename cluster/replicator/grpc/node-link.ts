import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { ReplicationStream } from '../primary-session.js';
import type { PrimaryFrame, PrimaryFrames, PrimaryMessage, SecondaryFrame, SecondaryFrames } from './wire.js';

export type ManyCall = grpc.ClientDuplexStream<PrimaryFrames, SecondaryFrames>;

/**
 * The primary's end of `ReplicateMany` to one peer: every partition's replication stream to
 * that node as a numbered channel of one call, and the frames written during one tick sent in
 * one gRPC message (issue 7: per-partition messages were most of a replicated write's CPU when
 * writes spread over many partitions). A channel looks like a `Replicate` stream to its
 * `PrimarySession`, so hello, truncation, copy, epochs and reconnects stay per partition. When
 * the call breaks every channel errors (its session reconnects); a peer that does not know
 * `ReplicateMany` (an older build) gets per-partition streams from then on.
 */
export class NodeLink {
  private call: ManyCall | null = null;
  private readonly channels = new Map<number, LinkChannel>();
  private nextChannel = 1;
  private pending: PrimaryFrame[] = [];
  private flushScheduled = false;
  private writable = true;
  /** The peer answered UNIMPLEMENTED: its sessions use `Replicate` streams. */
  unsupported = false;
  /** gRPC messages and frames sent (tests, benchmark). */
  messagesSent = 0;
  framesSent = 0;

  constructor(
    private readonly openMany: () => ManyCall,
    private readonly openPlain: () => ReplicationStream,
  ) {}

  open(): ReplicationStream {
    if (this.unsupported) return this.openPlain();
    if (!this.call) this.connect();
    const channel = new LinkChannel(this, this.nextChannel++);
    this.channels.set(channel.id, channel);
    return channel as unknown as ReplicationStream;
  }

  /** Ends the call and every channel on it (the node closes). */
  close(): void {
    if (this.call) this.broken(this.call, new Error('replication link closed'));
  }

  private connect(): void {
    const call = this.openMany();
    this.call = call;
    this.writable = true;
    call.on('data', (message: SecondaryFrames) => {
      if (this.call !== call) return;
      for (const frame of message.frames) this.channels.get(frame.channel)?.deliver(frame);
    });
    call.on('error', (err: Error) => this.broken(call, err));
    call.on('end', () => this.broken(call, new Error('replication link ended')));
    call.on('drain', () => {
      if (this.call !== call) return;
      this.writable = true;
      for (const channel of [...this.channels.values()]) channel.emit('drain');
    });
  }

  private broken(call: ManyCall, err: Error): void {
    if (this.call !== call) return;
    this.call = null;
    if ((err as Partial<grpc.ServiceError>).code === grpc.status.UNIMPLEMENTED) this.unsupported = true;
    this.pending = [];
    call.removeAllListeners('data');
    call.on('error', () => {});
    call.cancel();
    const channels = [...this.channels.values()];
    this.channels.clear();
    for (const channel of channels) channel.fail(err);
  }

  /** Queues a frame for this tick's message; false once the call's buffer is full (wait for 'drain'). */
  send(frame: PrimaryFrame): boolean {
    if (!this.call) return true; // the channel is failing: its session reconnects
    this.pending.push(frame);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return this.writable;
  }

  release(id: number): void {
    this.channels.delete(id);
  }

  private flush(): void {
    this.flushScheduled = false;
    const call = this.call;
    if (!call || this.pending.length === 0) return;
    const frames = this.pending;
    this.pending = [];
    this.messagesSent += 1;
    this.framesSent += frames.length;
    if (!call.write({ frames })) this.writable = false;
  }
}

/** One partition's stream on a link, as its `PrimarySession` sees it. */
class LinkChannel extends EventEmitter {
  private closed = false;

  constructor(
    private readonly link: NodeLink,
    readonly id: number,
  ) {
    super();
  }

  write(message: PrimaryMessage): boolean {
    if (this.closed) return true; // dropped, as on a broken stream; its session reconnects
    return this.link.send({ channel: this.id, message, close: false });
  }

  cancel(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.send({ channel: this.id, message: null, close: true });
    this.link.release(this.id);
  }

  deliver(frame: SecondaryFrame): void {
    if (this.closed) return;
    if (frame.message) this.emit('data', frame.message);
    if (frame.ended && !this.closed) {
      this.closed = true;
      this.link.release(this.id);
      this.emit('end');
    }
  }

  fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('error', err);
  }
}
