import { MeterfabricError } from '../../core/errors.js';
import { jsonLength } from './json-length.js';

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

/** The index of list[from, to) nearest its middle where the meter changes (undefined: one meter only). */
function cutNearMiddle(list: readonly unknown[], from: number, to: number): number | undefined {
  const length = to - from;
  const middle = Math.ceil(length / 2);
  for (let d = 0; d < length; d++)
    for (const i of [middle - d, middle + d])
      if (i > 0 && i < length && meterOf(list[from + i]) !== meterOf(list[from + i - 1])) return from + i;
  return undefined;
}

type Listed = { type: string; records?: unknown[]; routed?: unknown[] };

/**
 * JSON length of a command or record, as `JSON.stringify(v).length` (`null` for what it skips),
 * counted without building the string (json-length.ts).
 */
const jsonBytes = (v: unknown): number => jsonLength(v) ?? 4;

/** One part: its commands and their JSON bytes (summed per command, as `splitCommands` counts them). */
export type SizedPart = { commands: unknown[]; bytes: number };

/** The commands in parts of at most `limitBytes` (JSON), splitting record lists where one command is too big. */
export function splitCommands(commands: readonly unknown[], limitBytes: number): unknown[][] {
  return splitCommandsSized(commands, limitBytes).map((p) => p.commands);
}

/**
 * `splitCommands` with each part's bytes. A command that fits is measured once, whole; one
 * that does not has each record measured once more: a slice's JSON length is the command's
 * with an empty list plus its records' lengths and commas, so the halving below does
 * arithmetic instead of stringifying every half again (sizing was the driver's largest cost
 * per reading: bench/headend-cluster.bench.ts profile, session 13).
 */
export function splitCommandsSized(commands: readonly unknown[], limitBytes: number): SizedPart[] {
  const pieces: { command: unknown; bytes: number }[] = [];
  for (const command of commands) {
    const listed = command as Listed;
    const field = Array.isArray(listed.records)
      ? 'records'
      : Array.isArray(listed.routed)
        ? 'routed'
        : undefined;
    const list = field ? (listed[field] as unknown[]) : undefined;
    if (!field || !list || list.length < 2) {
      pieces.push({ command, bytes: jsonBytes(command) });
      continue;
    }
    // A command that likely fits (its first record times their count) is measured whole first:
    // no prefix sums to keep, but twice the work when it does not fit.
    if (jsonBytes(list[0]) * list.length <= limitBytes) {
      const wholeBytes = jsonBytes(command);
      if (wholeBytes <= limitBytes) {
        pieces.push({ command, bytes: wholeBytes });
        continue;
      }
    }
    // JSON.stringify({...listed, [field]: []}) keeps the list's key where it was.
    const emptyBytes = jsonBytes({ ...listed, [field]: [] });
    const prefix = new Float64Array(list.length + 1);
    for (let i = 0; i < list.length; i++) prefix[i + 1] = prefix[i]! + jsonBytes(list[i]);
    const sliceBytes = (from: number, to: number) =>
      emptyBytes + prefix[to]! - prefix[from]! + (to - from - 1);
    const add = (from: number, to: number) => {
      const bytes = sliceBytes(from, to);
      const whole = from === 0 && to === list.length;
      const slice = () => (whole ? command : { ...listed, [field]: list.slice(from, to) });
      if (bytes <= limitBytes || to - from < 2) {
        pieces.push({ command: slice(), bytes });
        return;
      }
      const cut = cutNearMiddle(list, from, to);
      if (cut === undefined) {
        pieces.push({ command: slice(), bytes });
        return;
      }
      add(from, cut);
      add(cut, to);
    };
    add(0, list.length);
  }
  const parts: SizedPart[] = [];
  let current: unknown[] = [];
  let size = 0;
  for (const { command, bytes } of pieces) {
    if (current.length > 0 && size + bytes > limitBytes) {
      parts.push({ commands: current, bytes: size });
      current = [];
      size = 0;
    }
    current.push(command);
    size += bytes;
  }
  if (current.length > 0) parts.push({ commands: current, bytes: size });
  return parts;
}
