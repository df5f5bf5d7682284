import {
  encodeMeterReadingsMessagesBytes,
  encodeMeterReadingsMessagesLeased,
  type LeasedMessages,
} from '../../adapters/cim/columnar-pool.js';
import { encodeEndDeviceEvents } from '../../adapters/cim/end-device-events.js';
import type { WorkerPool } from '../../cluster/pool/pool.js';
import type { Clock } from '../../core/clock.js';
import { deterministicUuid, type PublishedMessage } from './cim-message.js';
import type { OutputBatch } from './output-batch.js';

/**
 * One output batch as the CIM EventMessages the publisher writes and announces, in the order of
 * their positions: the readings as MeterReadings messages of at most `maxReadingsPerMessage`
 * readings each (encoded in the pool when given one), then the events as one EndDeviceEvents
 * message per CorrelationID. Each MessageID derives from the source, the batch's seq, the noun
 * and the message's index, so a batch replayed after a crash gets the same MessageIDs (and file
 * names). No files, no subscribers: cim-publisher.ts does those.
 */

const utf8Encoder = new TextEncoder();

/**
 * Readings per MeterReadings message unless configured. One constant: a MessageID derives from
 * its message's first reading's offset, and a restart rebuilds the window's IDs from the same
 * number (cim-window.ts), so encoding and restoring must not drift apart.
 */
export const defaultReadingsPerMessage = 5_000;

export type CimBatchEncodingOptions = {
  source: string;
  clock: Clock;
  /** Readings per MeterReadings message (bounded message size); default 5,000. */
  maxReadingsPerMessage?: number;
  /** The node's worker pool: MeterReadings messages are encoded there (same bytes), inline without. */
  pool?: Pick<WorkerPool, 'runPipelined' | 'threads'>;
};

/** A batch's messages as encoded: `release` gives lent bytes back once they are written and announced. */
export type EncodedBatch = { messages: Omit<PublishedMessage, 'position'>[]; release(): void };

/**
 * `lend`: the caller keeps no bytes once the batch is written and announced (the publisher with
 * an out dir, whose window keeps metadata only), so the MeterReadings bytes may be lent from the
 * pool's output arenas and given back by `release`. Without, they are bytes of their own (the
 * window keeps them) and `release` does nothing.
 */
export async function encodeBatchMessages(
  batch: OutputBatch,
  seq: number,
  options: CimBatchEncodingOptions,
  lend: boolean,
): Promise<EncodedBatch> {
  const messages: Omit<PublishedMessage, 'position'>[] = [];
  const perMessage = options.maxReadingsPerMessage ?? defaultReadingsPerMessage;
  const readingJobs = [];
  for (let i = 0; i < batch.readings.length; i += perMessage) {
    const messageId = deterministicUuid(`${options.source}|${seq}|MeterReadings|${i}`);
    const jobOptions = { messageId, source: options.source, clock: options.clock };
    readingJobs.push({ readings: batch.readings.slice(i, i + perMessage), options: jobOptions });
  }
  const lease: LeasedMessages = lend
    ? await encodeMeterReadingsMessagesLeased(options.pool, readingJobs)
    : { bytes: await encodeMeterReadingsMessagesBytes(options.pool, readingJobs), release: () => {} };
  for (const [i, job] of readingJobs.entries())
    messages.push({ noun: 'MeterReadings', messageId: job.options.messageId, bytes: lease.bytes[i]! });
  const groups = new Map<string, typeof batch.events>();
  for (const e of batch.events) {
    const key = e.correlationId ?? '';
    const group = groups.get(key);
    if (group) group.push(e);
    else groups.set(key, [e]);
  }
  let g = 0;
  for (const [correlationId, events] of groups) {
    const messageId = deterministicUuid(`${options.source}|${seq}|EndDeviceEvents|${g++}`);
    const xml = encodeEndDeviceEvents(events, {
      messageId,
      source: options.source,
      clock: options.clock,
      ...(correlationId ? { correlationId } : {}),
    });
    const bytes = utf8Encoder.encode(xml);
    messages.push({
      noun: 'EndDeviceEvents',
      messageId,
      bytes,
      ...(correlationId ? { correlationId } : {}),
    });
  }
  return { messages, release: lease.release };
}
