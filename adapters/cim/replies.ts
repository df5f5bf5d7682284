import type { CollectedReading } from '../field-data.js';
import { encodeResponseMessage } from './message.js';
import { METER_READINGS_NS, meterReadingsContent, meterReadingsFromCollected } from './meter-readings.js';
import type { Reply, ReplyError } from './model.js';
import type { ReadingTypeProfile } from './reading-type-map.js';
import type { InboundRequest } from './request-types.js';
import { isoUtc } from './xml-build.js';

/**
 * Replies the head-end sends after acting on a parsed request: the synchronous on-demand
 * reading (ResponseMessage carrying MeterReadings), or a reply with the item outcomes
 * (e.g. a device timeout) once a request was applied.
 */
export type ReplyOptions = { nowMs: number; source?: string; messageId?: string };

function nounOf(request: InboundRequest): string {
  return request.noun === 'GetMeterReadings' ? 'MeterReadings' : request.noun;
}

/** OnDemandMeterReadings answered: Result OK (or PARTIAL with `errors` for meters that did not answer). */
export function encodeMeterReadingsReply(
  request: InboundRequest,
  readings: readonly CollectedReading[],
  options: ReplyOptions & { profile?: ReadingTypeProfile; errors?: ReplyError[] },
): string {
  const errors = options.errors ?? [];
  const reply: Reply = {
    result: errors.length === 0 ? 'OK' : readings.length === 0 ? 'FAILED' : 'PARTIAL',
    errors,
  };
  return encodeResponseMessage(reply, {
    noun: 'MeterReadings',
    request: request.header,
    timestamp: isoUtc(options.nowMs),
    ...(options.source ? { source: options.source } : {}),
    ...(options.messageId ? { messageId: options.messageId } : {}),
    payload: {
      name: 'MeterReadings',
      ns: METER_READINGS_NS,
      content: meterReadingsContent(meterReadingsFromCollected(readings, options.profile ?? 'standard')),
    },
  });
}

/** A request applied item by item: its Reply (OK / PARTIAL / FAILED, see replyForItems) as XML. */
export function encodeRequestReply(request: InboundRequest, reply: Reply, options: ReplyOptions): string {
  return encodeResponseMessage(reply, {
    noun: nounOf(request),
    request: request.header,
    timestamp: isoUtc(options.nowMs),
    ...(options.source ? { source: options.source } : {}),
    ...(options.messageId ? { messageId: options.messageId } : {}),
  });
}
