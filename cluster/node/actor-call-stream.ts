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

/**
 * Bytes of replies one stream may have queued towards a caller that does not read them (a
 * reply counts until grpc-js has handed it to HTTP/2, which holds a reply or two beyond the
 * caller's flow-control window). While over it, new calls are refused with
 * MF_CALL_STREAM_FULL (retryable): the count bound alone let 4096 large replies pile up.
 */
export const maxQueuedReplyBytesPerStream = 64 * 1024 * 1024;

/**
 * Refusals are queued too: once this many bytes of them wait for a caller that does not read,
 * the stream stops reading its calls (HTTP/2 flow control then holds the caller) until its
 * replies drain below the budget.
 */
const refusalAllowanceBytes = 1024 * 1024;
/** A reply frame's bytes besides its result and message (id, field tags, gRPC framing). */
const frameOverheadBytes = 32;

export type CallStreamLimits = {
  maxQueuedReplyBytes: number;
  /** Told of each call refused for the byte budget (for metrics and tests). */
  onRefused?: () => void;
};

type Stream = grpc.ServerDuplexStream<ActorCallFrame, ActorReplyFrame>;

export function actorCallStreamHandler(
  actors: Pick<ActorHost, 'call'>,
  token: string | undefined,
  limits: CallStreamLimits = { maxQueuedReplyBytes: maxQueuedReplyBytesPerStream },
): (call: Stream) => void {
  const budget = limits.maxQueuedReplyBytes;
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
    let queuedBytes = 0;
    /** Of those, bytes of refusals (MF_CALL_STREAM_FULL), which a caller that never reads keeps adding. */
    let refusalBytes = 0;
    let paused = false;
    const reply = (frame: ActorReplyFrame, refusal = false): void => {
      if (closed) return;
      const size = frameOverheadBytes + (frame.result?.length ?? 0) + (frame.errorMessage?.length ?? 0);
      queuedBytes += size;
      if (refusal) refusalBytes += size;
      // grpc-js calls back once HTTP/2 took the frame (it does not take more while the caller's
      // flow-control window is full).
      call.write(frame, () => {
        queuedBytes -= size;
        if (refusal) refusalBytes -= size;
        if (paused && queuedBytes < budget) {
          paused = false;
          call.resume();
        }
      });
      if (!paused && refusalBytes > refusalAllowanceBytes) {
        paused = true;
        call.pause();
      }
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
      if (queuedBytes >= budget) {
        limits.onRefused?.();
        reply(
          {
            id,
            errorCode: 'MF_CALL_STREAM_FULL',
            errorMessage: `${queuedBytes} bytes of replies already queued to this caller (budget ${budget}); read them, then retry`,
          },
          true,
        );
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
