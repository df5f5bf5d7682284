import { MeterfabricError } from '../../core/errors.js';

/**
 * What one outbox entry sends one actor can be large (the midnight's daily closures of a
 * hundred concentrators in one TLog batch): it goes in parts, each small enough that the
 * receiver's persisted event (the call plus its reply) stays well under the runtime's 1 MiB.
 * Parts are numbered inside the entry's seq (`entry id * 1000 + part`), so the receiver's
 * per-source high-water mark still sees them in order and drops each repeat.
 */

export const maxDeliveryBytes = 96 * 1024;
export const maxPartsPerEntry = 1000;

export function deliverySeq(entryId: number, part: number): number {
  if (part >= maxPartsPerEntry)
    throw new MeterfabricError(
      'MF_PAYLOAD_TOO_LARGE',
      `an outbox entry needs more than ${maxPartsPerEntry} parts to one actor`,
    );
  return entryId * maxPartsPerEntry + part;
}

/**
 * A meter's records stay in one part: a daily closure's registers become one DC row only
 * when they are written together.
 */
function meterOf(item: unknown): string | undefined {
  const r = ((item as { record?: unknown }).record ?? item) as {
    meterSerial?: string;
    reading?: { meterSerial?: string };
    event?: { deviceId?: string };
  };
  return r.reading?.meterSerial ?? r.meterSerial ?? r.event?.deviceId;
}

/** The index nearest the middle where the meter changes (undefined: one meter only). */
function cutNearMiddle(list: readonly unknown[]): number | undefined {
  const middle = Math.ceil(list.length / 2);
  for (let d = 0; d < list.length; d++)
    for (const i of [middle - d, middle + d])
      if (i > 0 && i < list.length && meterOf(list[i]) !== meterOf(list[i - 1])) return i;
  return undefined;
}

type Listed = { type: string; records?: unknown[]; routed?: unknown[] };

/** The commands in parts of at most `limitBytes` (JSON), splitting record lists where one command is too big. */
export function splitCommands(commands: readonly unknown[], limitBytes: number): unknown[][] {
  const pieces: { command: unknown; bytes: number }[] = [];
  const add = (command: unknown) => {
    const bytes = JSON.stringify(command).length;
    const listed = command as Listed;
    const field = Array.isArray(listed.records)
      ? 'records'
      : Array.isArray(listed.routed)
        ? 'routed'
        : undefined;
    const list = field ? (listed[field] as unknown[]) : undefined;
    if (bytes <= limitBytes || !field || !list || list.length < 2) {
      pieces.push({ command, bytes });
      return;
    }
    const cut = cutNearMiddle(list);
    if (cut === undefined) {
      pieces.push({ command, bytes });
      return;
    }
    add({ ...listed, [field]: list.slice(0, cut) });
    add({ ...listed, [field]: list.slice(cut) });
  };
  for (const command of commands) add(command);
  const parts: unknown[][] = [];
  let current: unknown[] = [];
  let size = 0;
  for (const { command, bytes } of pieces) {
    if (current.length > 0 && size + bytes > limitBytes) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(command);
    size += bytes;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}
