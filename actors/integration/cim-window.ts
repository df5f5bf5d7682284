import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messagePosition, POSITIONS_PER_SEQ, type PublishedEntry } from './cim-message.js';

/**
 * Rebuilds the CIM publisher's retained window after a restart from the files the publisher
 * itself wrote under `<out>/cim/`, so a subscriber resuming from a position inside the window
 * gets exactly the messages after it (same MessageIDs and bytes, in order) instead of
 * MF_CHECKPOINT_EXPIRED.
 *
 * A message's position is `seq * 2^20 + index + 1`, and its index in the batch is not in the
 * file name: MeterReadings messages come first (their MessageIDs derive from the reading
 * offset `k * maxReadingsPerMessage`), then EndDeviceEvents (one per CorrelationID group `g`).
 * So the index is known only if we know how many MeterReadings messages the batch had, and a
 * batch whose files were only partly written by a crash must not be taken for a whole one
 * (positions would be invented). Hence `batches.log`: one line `<seq> <MeterReadings count>
 * <EndDeviceEvents count>` appended (and fsynced) after all of a batch's files are in place and
 * durable, and before any subscriber hears of it. It grows with the output (about 20 bytes per batch next to files of
 * kilobytes); only its tail is read.
 *
 * Rules (walking from the newest message back):
 * - a seq on disk newer than the newest logged one crashed mid-write: nobody was told of it
 *   (listeners run after the log line), so it is left out, and the stream replays it;
 * - a missing or torn file (not a whole EventMessage carrying its MessageID) is not served and
 *   ends the window: checkpoints before it expire (nothing is invented, nothing silently skipped);
 * - a seq that is not logged, or whose files do not match this publisher's source and message
 *   size (another configuration wrote them), ends the window at the highest position it could hold;
 * - the window is bounded by the same count and character limits as the live one.
 *
 * The window holds no bytes (session 17): each file is read and checked here, and read again
 * (`readMessageFile`, the same checks plus its length) when a subscriber resumes from it.
 */

export const batchLogName = 'batches.log';
const nouns = ['MeterReadings', 'EndDeviceEvents'] as const;
type Noun = (typeof nouns)[number];
/** Upper bound of one log line: 10-digit seq and two 7-digit counts. */
const maxLogLineBytes = 32;
const readConcurrency = 32;

export type BatchCounts = { meterReadings: number; endDeviceEvents: number };

/**
 * The `batches.log` line recording that every file of batch `seq` is in place. The publisher
 * appends it (and fsyncs the log) only once those files and their directory are durable
 * (cim-commit.ts), and before any subscriber hears of the batch.
 */
export function batchLogLine(seq: number, counts: BatchCounts): string {
  return `${seq} ${counts.meterReadings} ${counts.endDeviceEvents}\n`;
}

export type WindowRestoreOptions = {
  outDir: string;
  source: string;
  maxReadingsPerMessage: number;
  maxMessages: number;
  maxBytes: number;
  /** The publisher's MessageID derivation (`deterministicUuid`), injected to avoid an import cycle. */
  messageIdOf: (name: string) => string;
  /** The publisher's position rule (`messagePosition`). */
  positionOf: (seq: number, index: number) => number;
};

export type RestoredWindow = {
  /** Oldest first: each message's metadata and length (its bytes are in its file). */
  messages: PublishedEntry[];
  /** UTF-8 bytes of XML among them. */
  bytes: number;
  /** Checkpoints below this cannot be served: a message after them is on disk but not in the window. */
  servedFrom: number;
  /** Files left out: torn or missing messages, partly written batches (for the log). */
  cut: { seq: number; reason: string }[];
  /**
   * Positions of logged messages at or below `servedFrom` (ascending, the newest `maxMessages`):
   * what an expired checkpoint misses, as far as the log tail tells (a lower bound).
   */
  olderPositions: number[];
};

type Candidate = { seq: number; position: number; noun: Noun; messageId: string; path: string };

export async function restoreWindow(options: WindowRestoreOptions): Promise<RestoredWindow> {
  const cimDir = join(options.outDir, 'cim');
  const filesBySeq = await listFiles(cimDir);
  const empty: RestoredWindow = { messages: [], bytes: 0, servedFrom: 0, cut: [], olderPositions: [] };
  const highestPossible = (seq: number) => options.positionOf(seq, 2 ** 20 - 2);
  const log = await readLogTail(join(cimDir, batchLogName), options.maxMessages);
  if (log === undefined) {
    if (filesBySeq.size === 0) return empty;
    // Written before batches.log existed: positions inside a batch cannot be derived.
    return { ...empty, servedFrom: highestPossible([...filesBySeq.keys()].reduce((a, b) => Math.max(a, b))) };
  }
  // Logged batches whose files are gone count as missing messages (the window must not skip them).
  const seqs = [...new Set([...filesBySeq.keys(), ...log.keys()])].sort((a, b) => b - a);
  let newestLogged = -1;
  for (const seq of log.keys()) newestLogged = Math.max(newestLogged, seq);
  const cut: RestoredWindow['cut'] = [];
  const window: PublishedEntry[] = [];
  let bytes = 0;
  let servedFrom = 0;
  outer: for (const seq of seqs) {
    const files = filesBySeq.get(seq) ?? new Map<string, { noun: Noun; name: string }>();
    if (seq > newestLogged) {
      cut.push({ seq, reason: 'batch not logged as complete (crash while writing it): left to the replay' });
      continue;
    }
    const counts = log.get(seq);
    if (!counts) {
      servedFrom = highestPossible(seq);
      cut.push({ seq, reason: `batch not in ${batchLogName}: window ends here` });
      break;
    }
    const batch = expectedMessages(seq, counts, options, cimDir);
    const expectedIds = new Set(batch.map((c) => c.messageId));
    if ([...files.keys()].some((id) => !expectedIds.has(id))) {
      servedFrom = highestPossible(seq);
      cut.push({ seq, reason: 'files do not match this source and message size: window ends here' });
      break;
    }
    const contents = await readAll(batch.map((c) => (files.has(c.messageId) ? c.path : undefined)));
    for (let i = batch.length - 1; i >= 0; i--) {
      const c = batch[i] as Candidate;
      const content = contents[i];
      // Decoded once here (a restart, not the publishing path) for the checks below.
      const xml = content === undefined ? undefined : utf8Decoder.decode(content);
      if (content === undefined || xml === undefined || !isWholeMessage(xml, c.messageId)) {
        servedFrom = c.position;
        cut.push({ seq, reason: `${c.noun} ${c.messageId} torn or missing: window ends here` });
        break outer;
      }
      if (
        window.length >= options.maxMessages ||
        (window.length > 0 && bytes + content.byteLength > options.maxBytes)
      ) {
        servedFrom = c.position;
        break outer;
      }
      window.push({
        position: c.position,
        noun: c.noun,
        messageId: c.messageId,
        byteLength: content.byteLength,
        ...correlationOf(c.noun, xml),
      });
      bytes += content.byteLength;
    }
  }
  const olderPositions: number[] = [];
  for (const seq of [...log.keys()].sort((a, b) => b - a)) {
    const count = (log.get(seq) as BatchCounts).meterReadings + (log.get(seq) as BatchCounts).endDeviceEvents;
    for (let i = count - 1; i >= 0 && olderPositions.length < options.maxMessages; i--) {
      const position = options.positionOf(seq, i);
      if (position <= servedFrom) olderPositions.push(position);
    }
  }
  return { messages: window.reverse(), bytes, servedFrom, cut, olderPositions: olderPositions.reverse() };
}

/** Where the publisher writes a message's file (`<out>/cim/<Noun>/<seq, 10 digits>-<MessageID>.xml`). */
export function messageFilePath(
  outDir: string,
  m: Pick<PublishedEntry, 'position' | 'noun' | 'messageId'>,
): string {
  const seq = Math.floor((m.position - 1) / POSITIONS_PER_SEQ);
  return join(outDir, 'cim', m.noun, `${String(seq).padStart(10, '0')}-${m.messageId}.xml`);
}

/**
 * A window message's bytes, read from its file for a subscriber that resumes: undefined when
 * the file is missing or is not the whole message the publisher wrote (another length, no end
 * tag, another MessageID), which ends the window there as at a restart.
 */
export async function readMessageFile(outDir: string, m: PublishedEntry): Promise<Uint8Array | undefined> {
  let file: Buffer;
  try {
    file = await readFile(messageFilePath(outDir, m));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (file.byteLength !== m.byteLength) return undefined;
  // Only the tail is decoded: the checks must not cost a decode of the whole message.
  const tail = file.toString('latin1', Math.max(0, file.byteLength - 128));
  if (!wholeMessageEnd.test(tail) || !file.includes(`>${m.messageId}</`, 0, 'latin1')) return undefined;
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}

/**
 * The newest batch whose files an earlier process wrote under `<out>/cim/`, logged or not (its
 * messages are numbered 1..n, n = its files across nouns), and its last message's position:
 * where a fresh publisher's positions continue. Undefined when there are none.
 */
export async function newestBatchOnDisk(outDir: string): Promise<{ seq: number; last: number } | undefined> {
  const countBySeq = new Map<number, number>();
  for (const noun of nouns) {
    let names: string[];
    try {
      names = await readdir(join(outDir, 'cim', noun));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const name of names) {
      const match = /^(\d{10,})-[0-9a-f-]{36}\.xml$/.exec(name);
      if (!match) continue;
      const seq = Number(match[1]);
      countBySeq.set(seq, (countBySeq.get(seq) ?? 0) + 1);
    }
  }
  if (countBySeq.size === 0) return undefined;
  // A loop, not Math.max(...): an out dir can hold more seqs than a call takes arguments.
  const seq = [...countBySeq.keys()].reduce((a, b) => Math.max(a, b));
  return { seq, last: messagePosition(seq, (countBySeq.get(seq) as number) - 1) };
}

function expectedMessages(
  seq: number,
  counts: BatchCounts,
  options: WindowRestoreOptions,
  cimDir: string,
): Candidate[] {
  const out: Candidate[] = [];
  const add = (noun: Noun, key: number) => {
    const messageId = options.messageIdOf(`${options.source}|${seq}|${noun}|${key}`);
    out.push({
      seq,
      position: options.positionOf(seq, out.length),
      noun,
      messageId,
      path: join(cimDir, noun, `${String(seq).padStart(10, '0')}-${messageId}.xml`),
    });
  };
  for (let k = 0; k < counts.meterReadings; k++) add('MeterReadings', k * options.maxReadingsPerMessage);
  for (let g = 0; g < counts.endDeviceEvents; g++) add('EndDeviceEvents', g);
  return out;
}

async function listFiles(cimDir: string): Promise<Map<number, Map<string, { noun: Noun; name: string }>>> {
  const bySeq = new Map<number, Map<string, { noun: Noun; name: string }>>();
  for (const noun of nouns) {
    let names: string[];
    try {
      names = await readdir(join(cimDir, noun));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const name of names) {
      const match = /^(\d{10,})-([0-9a-f-]{36})\.xml$/.exec(name);
      if (!match) continue;
      const seq = Number(match[1]);
      let files = bySeq.get(seq);
      if (!files) {
        files = new Map();
        bySeq.set(seq, files);
      }
      files.set(match[2] as string, { noun, name });
    }
  }
  return bySeq;
}

/** The logged batches among the last `maxBatches` lines; undefined when there is no log. */
async function readLogTail(path: string, maxBatches: number): Promise<Map<number, BatchCounts> | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, (maxBatches + 1) * maxLogLineBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString('latin1').split('\n');
    // The last piece has no newline (empty, or a line torn by a crash); the first may be cut by the window.
    lines.pop();
    if (length < size) lines.shift();
    const out = new Map<number, BatchCounts>();
    for (const line of lines) {
      const m = /^(\d+) (\d+) (\d+)$/.exec(line);
      if (m) out.set(Number(m[1]), { meterReadings: Number(m[2]), endDeviceEvents: Number(m[3]) });
    }
    return out;
  } finally {
    await handle.close();
  }
}

async function readAll(paths: readonly (string | undefined)[]): Promise<(Uint8Array | undefined)[]> {
  const out: (Uint8Array | undefined)[] = new Array(paths.length);
  for (let i = 0; i < paths.length; i += readConcurrency) {
    await Promise.all(
      paths.slice(i, i + readConcurrency).map(async (path, j) => {
        if (path === undefined) return;
        try {
          const file = await readFile(path);
          // A plain Uint8Array view, like the bytes a publisher makes (same type for subscribers).
          out[i + j] = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }),
    );
  }
  return out;
}

const utf8Decoder = new TextDecoder();

/** A whole EventMessage as the publisher writes it: ends with its root's end tag and names its MessageID. */
function isWholeMessage(xml: string, messageId: string): boolean {
  return wholeMessageEnd.test(xml) && xml.includes(`>${messageId}</`);
}

const wholeMessageEnd = /<\/(?:[A-Za-z_][\w.-]*:)?EventMessage>\s*$/;

function correlationOf(noun: Noun, xml: string): { correlationId?: string } {
  if (noun !== 'EndDeviceEvents') return {};
  const m = /<(?:[A-Za-z_][\w.-]*:)?CorrelationID>([^<]*)</.exec(xml);
  return m?.[1] ? { correlationId: unescapeXml(m[1]) } : {};
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : "'",
  );
}
