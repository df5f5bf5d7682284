import { transferListOf, type WithTransfer, withTransfer } from '../../cluster/pool/transfer.js';
import { type Cemi, type GroupService, groupPayload, groupService } from './cemi.js';
import { isKnxError, KnxError } from './errors.js';
import { decodeFrame, type KnxFrame } from './frame.js';

/**
 * Batch tasks for the node's worker pool (cluster/pool): pure, structured-clone-able input and
 * output. A malformed frame yields an error entry in its slot instead of failing the batch, so
 * one bad datagram never costs the others.
 */

export type DecodeResult = { ok: true; frame: KnxFrame } | { ok: false; code: string; message: string };

/** Upper bound of frames in one task (keeps a task's latency and memory bounded). */
export const MAX_FRAMES_PER_TASK = 10_000;

export function decodeFrames(datagrams: Uint8Array[]): DecodeResult[] {
  if (datagrams.length > MAX_FRAMES_PER_TASK) {
    throw new KnxError(
      'MF_KNX_BATCH_TOO_LARGE',
      `decodeFrames takes at most ${MAX_FRAMES_PER_TASK} frames per task, got ${datagrams.length}; split the batch`,
    );
  }
  return datagrams.map((bytes) => {
    try {
      return { ok: true, frame: decodeFrame(bytes) };
    } catch (err) {
      if (isKnxError(err)) return { ok: false, code: err.code, message: err.message };
      return { ok: false, code: 'MF_KNX_STRUCTURE', message: String(err) };
    }
  });
}

/**
 * The same for many datagrams packed into one buffer (`lengths` gives each one's size): one
 * ArrayBuffer crosses the thread boundary instead of one per datagram.
 */
export function decodePackedFrames(payload: { bytes: Uint8Array; lengths: number[] }): DecodeResult[] {
  return decodeFrames(splitPacked(payload.bytes, payload.lengths));
}

/** The datagrams of a packed buffer, after checking the lengths fit it. */
function splitPacked(bytes: Uint8Array, lengths: ArrayLike<number>): Uint8Array[] {
  if (lengths.length > MAX_FRAMES_PER_TASK) {
    throw new KnxError(
      'MF_KNX_BATCH_TOO_LARGE',
      `decodePackedFrames takes at most ${MAX_FRAMES_PER_TASK} frames`,
    );
  }
  const datagrams: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]!;
    // A negative or fractional length would move the offset backwards and misalign every later frame.
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new KnxError(
        'MF_KNX_FRAME_LENGTH',
        `packed frame length ${length} is not a non-negative integer`,
      );
    }
    if (offset + length > bytes.length) {
      throw new KnxError('MF_KNX_FRAME_TRUNCATED', 'packed frame lengths run past the buffer');
    }
    datagrams.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  return datagrams;
}

/** Packs datagrams for decodePackedFrames. */
export function packFrames(datagrams: readonly Uint8Array[]): { bytes: Uint8Array; lengths: number[] } {
  const lengths = datagrams.map((d) => d.length);
  const bytes = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
  let offset = 0;
  for (const d of datagrams) {
    bytes.set(d, offset);
    offset += d.length;
  }
  return { bytes, lengths };
}

/**
 * Decoded frames as columns: what the head-end needs of each datagram (its service, and for an
 * L_Data cEMI frame the addresses, group service and value bits) in typed arrays that move to
 * the caller without a copy. Returning one object per frame cost more to clone back than the
 * decoding itself; these columns cost nothing to receive. Frame `i`'s slot holds the same facts
 * `decodeFrame` gives for it (`telegramAt` reads one back); an undecodable frame is an entry
 * in `errors` with its typed code, and the others still decode.
 */
export const TELEGRAM_ERROR = 0;
/** Decoded; no L_Data cEMI frame in it (a connection, search or ACK frame...). */
export const TELEGRAM_OTHER = 1;
/** Decoded; carries an L_Data cEMI frame (columns from messageCode on are set). */
export const TELEGRAM_LDATA = 2;

const groupServiceCodes: Record<GroupService, number> = {
  GroupValue_Read: 1,
  GroupValue_Response: 2,
  GroupValue_Write: 3,
};
const groupServiceNames: (GroupService | undefined)[] = [
  undefined,
  'GroupValue_Read',
  'GroupValue_Response',
  'GroupValue_Write',
];

const sequencedServices = new Set<string>([
  'TUNNELLING_REQUEST',
  'TUNNELLING_ACK',
  'DEVICE_CONFIGURATION_REQUEST',
  'DEVICE_CONFIGURATION_ACK',
]);
const cemiServices = new Set<string>([
  'TUNNELLING_REQUEST',
  'DEVICE_CONFIGURATION_REQUEST',
  'ROUTING_INDICATION',
  'ROUTING_SYSTEM_BROADCAST',
]);

export type TelegramColumns = {
  count: number;
  /** TELEGRAM_ERROR / _OTHER / _LDATA per frame. */
  status: Uint8Array;
  /** Index into `services` (KNXnet/IP service name); 0xFF for an error. */
  service: Uint8Array;
  services: string[];
  /** Channel and sequence of tunnelling / device configuration frames, else -1. */
  channelId: Int16Array;
  sequence: Int16Array;
  messageCode: Uint8Array;
  /** Bit 0: group destination; bit 1: standard frame; bit 2: ack requested; bit 3: confirm error. */
  flags: Uint8Array;
  source: Uint16Array;
  destination: Uint16Array;
  /** 0 none, 1 GroupValue_Read, 2 GroupValue_Response, 3 GroupValue_Write. */
  groupService: Uint8Array;
  /** The 6 short-data bits, or -1 when the value is long data (or there is no APCI). */
  shortData: Int8Array;
  /** Long data octets of frame i: data[dataOffset[i], dataOffset[i] + dataLength[i]). */
  dataOffset: Uint32Array;
  dataLength: Uint8Array;
  data: Uint8Array;
  errors: { index: number; code: string; message: string }[];
};

/** One frame's facts as an object: for tests and for callers that want one telegram. */
export type TelegramView =
  | { ok: false; code: string; message: string }
  | {
      ok: true;
      service: string;
      channelId?: number;
      sequence?: number;
      ldata?: {
        messageCode: number;
        groupDestination: boolean;
        standardFrame: boolean;
        ackRequest: boolean;
        confirmError: boolean;
        source: number;
        destination: number;
        groupService?: GroupService;
        shortData?: number;
        data?: number[];
      };
    };

/** The facts `decodeGroupTelegrams` keeps, taken from a decoded frame (main-thread reference). */
export function telegramViewOf(frame: KnxFrame): TelegramView {
  const view: Extract<TelegramView, { ok: true }> = { ok: true, service: frame.service };
  if ('channelId' in frame && 'sequence' in frame) {
    view.channelId = frame.channelId;
    view.sequence = frame.sequence;
  }
  const cemi = 'cemi' in frame ? frame.cemi : undefined;
  if (cemi?.kind === 'ldata') {
    const gs = groupService(cemi.tpdu);
    const payload = groupPayload(cemi.tpdu);
    view.ldata = {
      messageCode: cemi.messageCode,
      groupDestination: cemi.groupDestination,
      standardFrame: cemi.standardFrame,
      ackRequest: cemi.ackRequest,
      confirmError: cemi.confirmError,
      source: cemi.source,
      destination: cemi.destination,
      ...(gs ? { groupService: gs } : {}),
      ...(payload && 'shortData' in payload ? { shortData: payload.shortData } : {}),
      ...(payload && 'data' in payload ? { data: [...payload.data] } : {}),
    };
  }
  return view;
}

export function telegramAt(c: TelegramColumns, i: number): TelegramView {
  if (c.status[i] === TELEGRAM_ERROR) {
    const e = c.errors.find((x) => x.index === i);
    return { ok: false, code: e?.code ?? 'MF_KNX_STRUCTURE', message: e?.message ?? '' };
  }
  const view: Extract<TelegramView, { ok: true }> = { ok: true, service: c.services[c.service[i]!]! };
  if (c.channelId[i]! >= 0) {
    view.channelId = c.channelId[i]!;
    view.sequence = c.sequence[i]!;
  }
  if (c.status[i] === TELEGRAM_LDATA) {
    const flags = c.flags[i]!;
    const gs = groupServiceNames[c.groupService[i]!];
    const short = c.shortData[i]!;
    const offset = c.dataOffset[i]!;
    const length = c.dataLength[i]!;
    view.ldata = {
      messageCode: c.messageCode[i]!,
      groupDestination: (flags & 1) !== 0,
      standardFrame: (flags & 2) !== 0,
      ackRequest: (flags & 4) !== 0,
      confirmError: (flags & 8) !== 0,
      source: c.source[i]!,
      destination: c.destination[i]!,
      ...(gs ? { groupService: gs } : {}),
      ...(short >= 0 ? { shortData: short } : {}),
      ...(length > 0 ? { data: [...c.data.subarray(offset, offset + length)] } : {}),
    };
  }
  return view;
}

/**
 * Decodes datagrams packed by `packFrames` into TelegramColumns, moved back to the caller.
 * The payload's buffers can be moved in too (`transferList: [bytes.buffer]`).
 */
export function decodeTelegramColumns(payload: {
  bytes: Uint8Array;
  lengths: number[] | Uint32Array;
}): WithTransfer<TelegramColumns> {
  const lengths = payload?.lengths;
  if (!(payload?.bytes instanceof Uint8Array) || !(Array.isArray(lengths) || lengths instanceof Uint32Array))
    throw new KnxError('MF_KNX_FRAME_LENGTH', 'packed frames need bytes (Uint8Array) and lengths');
  const datagrams = splitPacked(payload.bytes, lengths);
  const count = datagrams.length;
  const c: TelegramColumns = {
    count,
    status: new Uint8Array(count),
    service: new Uint8Array(count).fill(0xff),
    services: [],
    channelId: new Int16Array(count).fill(-1),
    sequence: new Int16Array(count).fill(-1),
    messageCode: new Uint8Array(count),
    flags: new Uint8Array(count),
    source: new Uint16Array(count),
    destination: new Uint16Array(count),
    groupService: new Uint8Array(count),
    shortData: new Int8Array(count).fill(-1),
    dataOffset: new Uint32Array(count),
    dataLength: new Uint8Array(count),
    data: new Uint8Array(0),
    errors: [],
  };
  const serviceIndex = new Map<string, number>();
  const longData: Uint8Array[] = [];
  let dataBytes = 0;
  let lastService = '';
  let lastServiceIndex = -1;
  for (let i = 0; i < count; i++) {
    let frame: KnxFrame;
    try {
      frame = decodeFrame(datagrams[i]!);
    } catch (err) {
      if (isKnxError(err)) c.errors.push({ index: i, code: err.code, message: err.message });
      else c.errors.push({ index: i, code: 'MF_KNX_STRUCTURE', message: String(err) });
      continue;
    }
    if (frame.service !== lastService) {
      let s = serviceIndex.get(frame.service);
      if (s === undefined) {
        s = c.services.length;
        c.services.push(frame.service);
        serviceIndex.set(frame.service, s);
      }
      lastService = frame.service;
      lastServiceIndex = s;
    }
    c.service[i] = lastServiceIndex;
    c.status[i] = TELEGRAM_OTHER;
    // By service, not `in` checks: frames of a dozen shapes make property probes megamorphic.
    if (sequencedServices.has(frame.service)) {
      const f = frame as { channelId: number; sequence: number };
      c.channelId[i] = f.channelId;
      c.sequence[i] = f.sequence;
    }
    const cemi = cemiServices.has(frame.service) ? (frame as { cemi: Cemi }).cemi : undefined;
    if (cemi?.kind !== 'ldata') continue;
    c.status[i] = TELEGRAM_LDATA;
    c.messageCode[i] = cemi.messageCode;
    c.flags[i] =
      (cemi.groupDestination ? 1 : 0) |
      (cemi.standardFrame ? 2 : 0) |
      (cemi.ackRequest ? 4 : 0) |
      (cemi.confirmError ? 8 : 0);
    c.source[i] = cemi.source;
    c.destination[i] = cemi.destination;
    const gs = groupService(cemi.tpdu);
    if (gs) c.groupService[i] = groupServiceCodes[gs];
    const payload = groupPayload(cemi.tpdu);
    if (payload && 'shortData' in payload) c.shortData[i] = payload.shortData;
    else if (payload && 'data' in payload) {
      c.dataOffset[i] = dataBytes;
      c.dataLength[i] = payload.data.length;
      longData.push(payload.data);
      dataBytes += payload.data.length;
    }
  }
  c.data = new Uint8Array(dataBytes);
  let at = 0;
  for (const d of longData) {
    c.data.set(d, at);
    at += d.length;
  }
  const columns = [
    c.status,
    c.service,
    c.channelId,
    c.sequence,
    c.messageCode,
    c.flags,
    c.source,
    c.destination,
    c.groupService,
    c.shortData,
    c.dataOffset,
    c.dataLength,
    c.data,
  ];
  return withTransfer(c, transferListOf(columns));
}
