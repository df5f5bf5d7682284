import { parseReadoutMessage } from './iec62056/codec.js';
import { parseDataLine } from './iec62056/data-sets.js';
import { assertMeterTimeZone } from './iec62056/meter-time.js';
import { interpretDataSets, type RegisterValue } from './iec62056/obis.js';

/**
 * Batch functions for the piscina pool (`pool.run({ module: 'adapters/modem/pool-tasks', fn:
 * 'interpretReadouts', payload })`): pure, structured-clone-able in and out. Decoding many
 * captured IEC 62056-21 readouts off the event loop, e.g. when a poller uploads a day's files.
 */
export type ReadoutBatchItem = { id: string; bytes: Uint8Array };
export type ReadoutBatchResult =
  | {
      id: string;
      ok: true;
      registers: RegisterValue[];
      metadata: Record<string, string>;
      unknownObis: string[];
    }
  | { id: string; ok: false; code: string; message: string };

export const maxBatchItems = 10_000;

export function interpretReadouts(payload: {
  items: ReadoutBatchItem[];
  maxMessageBytes?: number;
  /** IANA zone of the meters' clocks, for their time stamps (default UTC). */
  meterTimeZone?: string;
}): ReadoutBatchResult[] {
  if (payload.items.length > maxBatchItems) {
    throw new RangeError(`at most ${maxBatchItems} readouts per batch, got ${payload.items.length}`);
  }
  assertMeterTimeZone(payload.meterTimeZone ?? 'UTC');
  return payload.items.map(({ id, bytes }) => {
    try {
      const parsed = parseReadoutMessage(bytes, payload.maxMessageBytes ?? 64 * 1024);
      if (parsed.status === 'incomplete') {
        return { id, ok: false, code: 'MF_IEC62056_TRUNCATED', message: 'readout ends before ETX and BCC' };
      }
      const r = interpretDataSets(parsed.value.lines.flatMap(parseDataLine), {
        meterTimeZone: payload.meterTimeZone ?? 'UTC',
      });
      return { id, ok: true, registers: r.registers, metadata: r.metadata, unknownObis: r.unknownObis };
    } catch (err) {
      const e = err as { code?: string; message: string };
      return { id, ok: false, code: e.code ?? 'MF_IEC62056_MALFORMED', message: e.message };
    }
  });
}
