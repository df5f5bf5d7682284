import { randomBytes } from 'node:crypto';

/**
 * The JSON text a call's packed command arrived in, kept so the persisted event carries it
 * instead of serialising the same readings again (issue 7). A head-end call's payload is
 * `{"c":<packed command>,"atMs":<n>}`; the hosted command actor persists `c` as it arrived
 * (actors/hosting/command-actor.ts), so the primary used to parse ~50-85 KB of a worker's or
 * the stream's packed readings and then `JSON.stringify` the same value again in `persist`
 * (~8 us per KB). Remembering the text of `c` and splicing it into the record costs one scan
 * of it (~1 us per KB).
 *
 * Exactness: the text is remembered only when the payload is `{"c":` + one complete JSON
 * object or array + `}` or `,"atMs":<number>}`, so it is the one and only value of `c` that
 * `JSON.parse` gave (a repeated "c" key, whitespace or any other shape: nothing is remembered
 * and the record is serialised as before). The record's bytes are those `JSON.stringify`
 * writes whenever the caller wrote its payload with `JSON.stringify` (every caller in this
 * repository); any other valid spelling (e.g. `1.0`, `\u00e9`) reads back as the same value.
 * The persisted format is unchanged: old and new records read alike.
 *
 * Keyed by the parsed object itself (a WeakMap): a value that is not the very object the call
 * parsed (a machine that rebuilt its command) is serialised as before.
 */
const arrived = new WeakMap<object, string>();

const cOpen = '{"c":';
const atMsTail = /^,"atMs":-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\}$/;

/** Index just past the object or array that opens at `start`, or -1 (strings may hold brackets). */
function containerEnd(text: string, start: number): number {
  let depth = 0;
  const n = text.length;
  for (let i = start; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      // Skip the string: the next quote not escaped by an odd run of backslashes.
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return -1;
        let slashes = 0;
        for (let j = q - 1; text.charCodeAt(j) === 0x5c; j--) slashes++;
        i = q;
        if ((slashes & 1) === 0) break;
      }
    } else if (ch === 0x7b || ch === 0x5b) depth++;
    else if (ch === 0x7d || ch === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Called with a payload's text and what `JSON.parse` made of it: remembers the text of its `c`
 * if the payload has exactly the call shape above. Returns whether it did (for tests).
 */
export function rememberArrivedC(text: string, parsed: unknown): boolean {
  if (typeof parsed !== 'object' || parsed === null || !text.startsWith(cOpen)) return false;
  const c = (parsed as { c?: unknown }).c;
  if (typeof c !== 'object' || c === null) return false;
  const open = text.charCodeAt(cOpen.length);
  if (open !== 0x7b && open !== 0x5b) return false;
  const end = containerEnd(text, cOpen.length);
  if (end < 0) return false;
  if (!(end === text.length - 1 && text.charCodeAt(end) === 0x7d) && !atMsTail.test(text.slice(end)))
    return false;
  arrived.set(c, text.slice(cOpen.length, end));
  return true;
}

/** A stand-in no caller can produce by chance or on purpose (random per process). */
const marker = `mf-arrived-${randomBytes(16).toString('hex')}`;
const quotedMarker = `"${marker}"`;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * `JSON.stringify(stored)` for a stored nact event `{ data: { event: { c, ... }, ... }, ... }`,
 * with the arrived text of `c` spliced in when it is remembered. Same value, same key order.
 */
export function stringifyStoredEvent(stored: { data: unknown }): string {
  const data = stored.data;
  if (!isObj(data)) return JSON.stringify(stored);
  const event = data.event;
  if (!isObj(event) || !Object.hasOwn(event, 'c')) return JSON.stringify(stored);
  const c = event.c;
  const raw = typeof c === 'object' && c !== null ? arrived.get(c) : undefined;
  if (raw === undefined) return JSON.stringify(stored);
  const text = JSON.stringify({ ...stored, data: { ...data, event: { ...event, c: marker } } });
  const at = text.indexOf(quotedMarker);
  // The marker once, where `c` stands; anything else (it cannot happen) falls back.
  if (at < 0 || text.indexOf(quotedMarker, at + 1) >= 0) return JSON.stringify(stored);
  return text.slice(0, at) + raw + text.slice(at + quotedMarker.length);
}
