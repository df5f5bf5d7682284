import * as grpc from '@grpc/grpc-js';
import { isMeterfabricError } from '../../core/errors.js';
import type { ActorHost } from '../actors/actor-host.js';
import { tokenMatches, tokenMetadataKey } from './grpc-contracts.js';

/**
 * The node's end of `Node.CallActors`: actor calls multiplexed on one stream per caller,
 * each served exactly like a unary CallActor (ActorHost.call) and answered by id as soon as
 * it completes (calls to different actors finish in any order). Cheaper per call than a
 * unary RPC: no HTTP/2 stream, headers, trailers or deadline timer per call.
 */
export type ActorCallFrame = { id: number; call: Parameters<ActorHost['call']>[0] | null };
export type ActorReplyFrame = { id: number; result?: Buffer; errorCode?: string; errorMessage?: string };

/** Calls one stream may have in flight; a caller over it gets MF_CALL_STREAM_FULL (retryable). */
export const maxCallsInFlightPerStream = 4096;

type Stream = grpc.ServerDuplexStream<ActorCallFrame, ActorReplyFrame>;

export function actorCallStreamHandler(
  actors: Pick<ActorHost, 'call'>,
  token: string | undefined,
): (call: Stream) => void {
  return (call: Stream) => {
    if (token && !tokenMatches(token, call.metadata.get(tokenMetadataKey)[0])) {
      const metadata = new grpc.Metadata();
      metadata.set('mf-code', 'MF_UNAUTHENTICATED');
      // 'error' on a server stream sets its status and ends it (destroy() would send none).
      const details = 'this cluster requires its token (MF_CLUSTER_TOKEN) on every call';
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details, metadata });
      return;
    }
    let inFlight = 0;
    let inputEnded = false;
    let closed = false;
    const reply = (frame: ActorReplyFrame): void => {
      if (!closed) call.write(frame);
    };
    const maybeEnd = (): void => {
      if (inputEnded && inFlight === 0 && !closed) {
        closed = true;
        call.end();
      }
    };
    call.on('data', (frame: ActorCallFrame) => {
      const id = Number(frame.id);
      if (!frame.call) {
        reply({ id, errorCode: 'MF_BAD_REQUEST', errorMessage: 'call frame without a call' });
        return;
      }
      if (inFlight >= maxCallsInFlightPerStream) {
        reply({
          id,
          errorCode: 'MF_CALL_STREAM_FULL',
          errorMessage: `${maxCallsInFlightPerStream} calls already in flight on this stream; retry`,
        });
        return;
      }
      inFlight++;
      actors
        .call(frame.call)
        .then(
          (result) => reply({ id, result }),
          (err: unknown) =>
            reply({
              id,
              errorCode: isMeterfabricError(err) ? err.code : 'MF_INTERNAL',
              errorMessage: err instanceof Error ? err.message : String(err),
            }),
        )
        .finally(() => {
          inFlight--;
          maybeEnd();
        });
    });
    call.on('end', () => {
      inputEnded = true;
      maybeEnd();
    });
    const abandon = (): void => {
      closed = true;
    };
    call.on('error', abandon);
    call.on('cancelled', abandon);
  };
}
