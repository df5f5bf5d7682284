import type * as grpc from '@grpc/grpc-js';
import { isMeterfabricError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { PartitionId } from '../contract.js';
import type { Replica } from '../replica.js';
import { tokenAccepted, unauthenticated } from './cluster-token.js';
import type { PrimaryMessage, SecondaryMessage } from './wire.js';

type Stream = grpc.ServerDuplexStream<PrimaryMessage, SecondaryMessage>;

/** Bound on a partition id in a Start message (it names a sublevel on disk). */
const MAX_PARTITION_ID_LENGTH = 200;
const PARTITION_ID = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function validPartitionId(partition: string): boolean {
  return partition.length > 0 && partition.length <= MAX_PARTITION_ID_LENGTH && PARTITION_ID.test(partition);
}

/**
 * The secondary's end of `Replication.Replicate`: the first message names the partition and
 * epoch; after that messages are handled strictly in order, acknowledgements are coalesced
 * (one ack for everything persisted by the time the previous ack went out).
 */
export function replicationHandler(
  replicaOf: (partition: PartitionId) => Promise<Replica>,
  logger: Logger,
  clusterToken?: string,
): (call: Stream) => void {
  return (call: Stream) => {
    if (!tokenAccepted(clusterToken, call.metadata)) {
      call.destroy(unauthenticated());
      return;
    }
    let replica: Replica | null = null;
    let token = 0;
    let epoch = 0;
    let chain: Promise<void> = Promise.resolve();
    let ended = false;
    let ackScheduled = false;
    let highestPersisted = 0;

    const end = () => {
      if (ended) return;
      ended = true;
      if (replica) replica.secondary.detach(token);
      call.end();
    };
    const refuse = (err: unknown) => {
      if (ended) return;
      const code = isMeterfabricError(err) ? err.code : 'MF_INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      if (code === 'MF_INTERNAL' || code === 'MF_INVARIANT')
        logger.error({ err }, 'replication stream failed');
      call.write({ refused: { code, message, fencedEpoch: replica?.log.fencedEpoch ?? 0 } });
      end();
    };
    const ack = (persistedLsn: number) => {
      highestPersisted = Math.max(highestPersisted, persistedLsn);
      if (ackScheduled || ended) return;
      ackScheduled = true;
      setImmediate(() => {
        ackScheduled = false;
        if (ended || !replica) return;
        call.write({ ack: { epoch, persistedLsn: highestPersisted, appliedLsn: replica.log.appliedLsn } });
      });
    };

    const handle = async (message: PrimaryMessage): Promise<void> => {
      if ('start' in message && message.start) {
        const start = message.start;
        if (replica) throw new Error('a replication stream starts only once');
        if (!validPartitionId(start.partition)) throw new Error(`invalid partition id "${start.partition}"`);
        replica = await replicaOf(start.partition);
        epoch = start.epoch;
        const accepted = await replica.secondary.accept(start.epoch, start.primaryNode, end);
        token = accepted.token;
        call.write({ hello: accepted.hello });
        return;
      }
      if (!replica) throw new Error('replication stream must begin with start');
      const secondary = replica.secondary;
      if ('entries' in message && message.entries) {
        // A commit-only message changes nothing the primary counts: ack it only if it finds
        // more persisted than was acknowledged or is about to be (saves an ack per commit notice).
        const onlyCommit = message.entries.entries.length === 0;
        secondary
          .receive(token, message.entries)
          .then((lsn) => (onlyCommit && lsn <= highestPersisted ? undefined : ack(lsn)), refuse);
      } else if ('truncate' in message && message.truncate) {
        ack(await secondary.truncate(token, message.truncate.epoch, message.truncate.keepThroughLsn));
      } else if ('copyChunk' in message && message.copyChunk) {
        await secondary.copyChunk(token, message.copyChunk.epoch, message.copyChunk.records);
      } else if ('copyEnd' in message && message.copyEnd) {
        const { epoch: e, copyLsn, history } = message.copyEnd;
        ack(await secondary.copyEnd(token, e, copyLsn, history));
      }
    };

    call.on('data', (message: PrimaryMessage) => {
      chain = chain.then(() => (ended ? undefined : handle(message))).catch(refuse);
    });
    call.on('end', end);
    call.on('error', () => end());
    call.on('cancelled', () => end());
  };
}
