import type { DeviceEventKey } from '../../adapters/field-data.js';
import { quantityKey, recordId, type TLogRecord } from './records.js';

/**
 * The TLogManager's routing as a pure function of its state (the seed §2.4): work-order
 * results go to the high-priority stream; everything else to the normal stream, which is
 * sorted into typed streams. Duplicates (same record id) are dropped here, so a job retried
 * after a failover does not put a value into the output twice.
 */

export type PriorityStream = 'high' | 'normal';
export type TypedStream = 'readings' | 'loadprofiles' | 'events' | 'statuswords';

export type RoutedRecord = {
  id: string;
  stream: PriorityStream;
  typed: TypedStream | null;
  record: TLogRecord;
};

export type TLogState = {
  /** Newest instant per `${meter}|${kind}|${quantity}` already routed: readings arrive in time order per key. */
  readingHighWater: Record<string, number>;
  /** Ids of recent non-reading records, oldest first, bounded by maxRememberedIds. */
  recentIds: string[];
  recentIdSet: Record<string, true>;
  maxRememberedIds: number;
  routed: Record<PriorityStream, number>;
  duplicatesDropped: number;
};

/** Results of detachment, reconnection and power reduction: the high-priority stream. */
const workOrderEventKeys: ReadonlySet<DeviceEventKey> = new Set([
  'meter.relayOpened',
  'meter.relayClosed',
  'meter.powerReduced',
]);

export function newTLog(maxRememberedIds = 200_000): TLogState {
  return {
    readingHighWater: {},
    recentIds: [],
    recentIdSet: {},
    maxRememberedIds,
    routed: { high: 0, normal: 0 },
    duplicatesDropped: 0,
  };
}

export function classify(record: TLogRecord): { stream: PriorityStream; typed: TypedStream | null } {
  switch (record.type) {
    case 'workOrderResult':
      return { stream: 'high', typed: null };
    case 'event':
      return workOrderEventKeys.has(record.event.key) && record.event.correlationId !== undefined
        ? { stream: 'high', typed: null }
        : { stream: 'normal', typed: 'events' };
    case 'statusWord':
      return { stream: 'normal', typed: 'statuswords' };
    case 'reading':
      return { stream: 'normal', typed: record.reading.kind === 'interval' ? 'loadprofiles' : 'readings' };
  }
}

export function route(
  state: TLogState,
  records: readonly TLogRecord[],
): { state: TLogState; routed: RoutedRecord[] } {
  const routed: RoutedRecord[] = [];
  for (const record of records) {
    let id: string;
    if (record.type === 'reading') {
      const r = record.reading;
      const hwKey = `${r.meterSerial}|${r.kind}|${quantityKey(r.quantity)}`;
      const highWater = state.readingHighWater[hwKey];
      if (highWater !== undefined && r.timestampMs <= highWater) {
        state.duplicatesDropped += 1;
        continue;
      }
      state.readingHighWater[hwKey] = r.timestampMs;
      id = `r|${hwKey}|${r.timestampMs}`; // recordId's form, from the key already built
    } else {
      id = recordId(record);
      if (state.recentIdSet[id]) {
        state.duplicatesDropped += 1;
        continue;
      }
      remember(state, id);
    }
    const { stream, typed } = classify(record);
    state.routed[stream] += 1;
    routed.push({ id, stream, typed, record });
  }
  return { state, routed };
}

/**
 * Over the bound, the oldest ids go in one slice (the bound plus a sixteenth of it): a shift
 * per record moved the whole 200,000-entry array each time once it was full.
 */
function remember(state: TLogState, id: string): void {
  state.recentIds.push(id);
  state.recentIdSet[id] = true;
  const ids = state.recentIds;
  if (ids.length <= state.maxRememberedIds) return;
  const drop = ids.length - state.maxRememberedIds + Math.floor(state.maxRememberedIds / 16);
  for (let i = 0; i < drop; i++) delete state.recentIdSet[ids[i] as string];
  ids.splice(0, drop);
}
