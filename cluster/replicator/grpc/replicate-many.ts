import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { tokenAccepted, unauthenticated } from './cluster-token.js';
import type {
  PrimaryFrames,
  PrimaryMessage,
  SecondaryFrame,
  SecondaryFrames,
  SecondaryMessage,
} from './wire.js';

type ManyStream = grpc.ServerDuplexStream<PrimaryFrames, SecondaryFrames>;
type OneStream = grpc.ServerDuplexStream<PrimaryMessage, SecondaryMessage>;

/** Bound on the channels open on one ReplicateMany call (a node's partitions from one primary node). */
export const MAX_CHANNELS_PER_CALL = 100_000;

/**
 * The secondary's end of `ReplicateMany`: each channel is served by the `Replicate` handler
 * (`replicationHandler`) on a stream of its own, so a channel keeps its messages' order, its
 * epoch checks and its refusals, and ends alone; what all channels write during one tick (acks,
 * hellos) goes back in one gRPC message. A channel begins with a `start`; frames of an unknown
 * channel that do not are ignored (the channel ended here and its primary has not heard yet).
 */
export function replicateManyHandler(
  serveOne: (call: OneStream) => void,
  clusterToken?: string,
): (call: ManyStream) => void {
  return (call: ManyStream) => {
    if (!tokenAccepted(clusterToken, call.metadata)) {
      call.destroy(unauthenticated());
      return;
    }
    const channels = new Map<number, ChannelStream>();
    let out: SecondaryFrame[] = [];
    let flushScheduled = false;
    let ended = false;
    const flush = () => {
      flushScheduled = false;
      if (ended || out.length === 0) return;
      const frames = out;
      out = [];
      call.write({ frames });
    };
    const send = (frame: SecondaryFrame) => {
      if (ended) return;
      out.push(frame);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    };
    call.on('data', (message: PrimaryFrames) => {
      for (const frame of message.frames) {
        let channel = channels.get(frame.channel);
        if (frame.close) {
          if (channel) {
            channels.delete(frame.channel);
            channel.cancelled();
          }
          continue;
        }
        if (!frame.message) continue;
        if (!channel) {
          if (!('start' in frame.message && frame.message.start)) continue;
          if (channels.size >= MAX_CHANNELS_PER_CALL) {
            send({
              channel: frame.channel,
              message: {
                refused: {
                  code: 'MF_REPLICATION_QUEUE_FULL',
                  message: `more than ${MAX_CHANNELS_PER_CALL} channels on one replication link`,
                  fencedEpoch: 0,
                },
              },
              ended: true,
            });
            continue;
          }
          const id = frame.channel;
          channel = new ChannelStream(id, call.metadata, send, () => channels.delete(id));
          channels.set(id, channel);
          serveOne(channel as unknown as OneStream);
        }
        channel.emit('data', frame.message);
      }
    });
    const endAll = () => {
      if (ended) return;
      ended = true;
      const open = [...channels.values()];
      channels.clear();
      for (const channel of open) channel.cancelled();
      call.end();
    };
    call.on('end', endAll);
    call.on('error', endAll);
    call.on('cancelled', endAll);
  };
}

/** One channel, as the `Replicate` handler sees a stream: metadata, write, end, and its events. */
class ChannelStream extends EventEmitter {
  private done = false;

  constructor(
    private readonly id: number,
    readonly metadata: grpc.Metadata,
    private readonly send: (frame: SecondaryFrame) => void,
    private readonly release: () => void,
  ) {
    super();
  }

  write(message: SecondaryMessage): boolean {
    if (!this.done) this.send({ channel: this.id, message, ended: false });
    return true;
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.release();
    this.send({ channel: this.id, message: null, ended: true });
  }

  destroy(): void {
    this.end();
  }

  /** The primary closed the channel or the call ended. */
  cancelled(): void {
    if (this.done) return;
    this.done = true;
    this.emit('cancelled');
  }
}
