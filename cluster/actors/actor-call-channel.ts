import * as grpc from '@grpc/grpc-js';
import { MeterfabricError } from '../../core/errors.js';
import type { ActorCallFrame, ActorReplyFrame } from '../node/actor-call-stream.js';
import { maxCallsInFlightPerStream } from '../node/actor-call-stream.js';
import { fromGrpcError, tokenMetadataKey } from '../node/grpc-contracts.js';

type CallRequest = NonNullable<ActorCallFrame['call']>;
type Pending = { resolve: (result: Buffer) => void; reject: (err: Error) => void; deadlineMs: number };
type CallStream = grpc.ClientDuplexStream<ActorCallFrame, ActorReplyFrame>;

/** How often calls past their attempt deadline are failed (one timer per channel, not per call). */
const sweepEveryMs = 50;

/**
 * The ActorProxy's end of `Node.CallActors` to one node: actor calls multiplexed on one
 * stream, matched to replies by id. A call fails like its unary counterpart: with the node's
 * MF_* code, MF_DEADLINE when its attempt timeout passes (outcome unknown), MF_UNAVAILABLE
 * when the stream breaks (outcome unknown; the next call opens a new stream). Either way the
 * proxy retries with the same idempotency key.
 */
export class ActorCallChannel {
  private stream: CallStream | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: grpc.Client,
    private readonly token?: string,
  ) {}

  call(request: CallRequest, timeoutMs: number): Promise<Buffer> {
    if (this.pending.size >= maxCallsInFlightPerStream) {
      return Promise.reject(
        new MeterfabricError(
          'MF_CALL_STREAM_FULL',
          `${maxCallsInFlightPerStream} calls already in flight to this node; retry`,
        ),
      );
    }
    const stream = this.open();
    return new Promise<Buffer>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, deadlineMs: Date.now() + timeoutMs });
      this.sweeper ??= setInterval(() => this.sweep(), sweepEveryMs).unref();
      stream.write({ id, call: request });
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  close(): void {
    const stream = this.stream;
    this.stream = null;
    stream?.cancel();
    this.failAll(new MeterfabricError('MF_UNAVAILABLE', 'actor call channel closed'));
  }

  private open(): CallStream {
    if (this.stream) return this.stream;
    const metadata = new grpc.Metadata();
    if (this.token) metadata.set(tokenMetadataKey, this.token);
    const open = (this.client as unknown as { CallActors(m: grpc.Metadata): CallStream }).CallActors;
    const stream = open.call(this.client, metadata);
    this.stream = stream;
    stream.on('data', (frame: ActorReplyFrame) => {
      const id = Number(frame.id);
      const pending = this.pending.get(id);
      if (!pending) return; // its attempt already timed out
      this.pending.delete(id);
      if (frame.errorCode) pending.reject(new MeterfabricError(frame.errorCode, frame.errorMessage ?? ''));
      else pending.resolve(frame.result ?? Buffer.alloc(0));
    });
    const broken = (err: Error): void => {
      if (this.stream !== stream) return;
      this.stream = null;
      this.failAll(err);
    };
    stream.on('error', (err: unknown) => broken(fromGrpcError(err)));
    stream.on('end', () =>
      broken(new MeterfabricError('MF_UNAVAILABLE', 'node closed the actor call stream')),
    );
    return stream;
  }

  private failAll(err: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
    this.stopSweeper();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadlineMs > now) continue;
      this.pending.delete(id);
      p.reject(new MeterfabricError('MF_DEADLINE', 'actor call attempt timed out; its outcome is unknown'));
    }
    if (this.pending.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}
