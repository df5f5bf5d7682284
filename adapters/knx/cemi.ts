import { ByteReader, ByteWriter } from './bytes.js';
import { Apci, CemiMessageCode, cemiMessageNames } from './constants.js';
import { KnxError } from './errors.js';

/**
 * cEMI frames (reference §1.7): L_Data.req/.con/.ind with additional info, control fields and
 * TPDU; L_Busmon.ind; M_Prop* for device management; anything else kept raw. Decoding keeps
 * every bit (the raw APCI, reserved control bits) so that a canonical frame re-encodes
 * byte-identical.
 */

export type AdditionalInfo = { type: number; data: Uint8Array };

export type Priority = 'system' | 'normal' | 'urgent' | 'low';
const priorities: readonly Priority[] = ['system', 'normal', 'urgent', 'low'];

export type GroupService = 'GroupValue_Read' | 'GroupValue_Response' | 'GroupValue_Write';

export type Tpdu = {
  /** The 6 TPCI bits (0 = T_Data_Group / T_Data_Broadcast for group telegrams). */
  tpci: number;
  /** The 10-bit APCI as on the wire (includes short data bits); undefined for TPCI-only control frames. */
  apci?: number;
  /** Octets after the APCI octet ("long data"). */
  data: Uint8Array;
};

export type LDataFrame = {
  kind: 'ldata';
  messageCode: number;
  additionalInfo: AdditionalInfo[];
  /** ctrl1 bit 7: true = standard frame, false = extended. */
  standardFrame: boolean;
  /** ctrl1 bit 5 as sent: true = "do not repeat". */
  doNotRepeat: boolean;
  /** ctrl1 bit 4: true = normal broadcast, false = system broadcast. */
  broadcast: boolean;
  priority: Priority;
  ackRequest: boolean;
  /** ctrl1 bit 0: in L_Data.con, true means the bus transmission failed (negative confirmation). */
  confirmError: boolean;
  /** ctrl1 bit 6 (reserved) kept so that odd frames round-trip. */
  reservedBit: boolean;
  /** ctrl2 bit 7: destination is a group address. */
  groupDestination: boolean;
  hopCount: number;
  extendedFormat: number;
  source: number;
  destination: number;
  tpdu: Tpdu;
};

export type BusmonitorFrame = {
  kind: 'busmon';
  messageCode: number;
  additionalInfo: AdditionalInfo[];
  raw: Uint8Array;
};

export type PropertyFrame = {
  kind: 'property';
  messageCode: number;
  objectType: number;
  objectInstance: number;
  propertyId: number;
  /** Number of elements (4 bits); 0 in a .con means an error, then data holds the error code. */
  count: number;
  startIndex: number;
  data: Uint8Array;
};

export type RawCemiFrame = { kind: 'raw'; messageCode: number; data: Uint8Array };

export type Cemi = LDataFrame | BusmonitorFrame | PropertyFrame | RawCemiFrame;

/** A standard frame carries at most 15 octets after the TPCI; extended frames up to 254. */
export const MAX_STANDARD_DATA_LENGTH = 15;
export const MAX_EXTENDED_DATA_LENGTH = 254;

export function cemiMessageName(code: number): string {
  return cemiMessageNames[code] ?? `0x${code.toString(16).padStart(2, '0')}`;
}

function cemiError(message: string, details: Record<string, unknown> = {}): KnxError {
  return new KnxError('MF_KNX_CEMI', message, details);
}

const isLData = (code: number): boolean =>
  code === CemiMessageCode.L_DATA_REQ ||
  code === CemiMessageCode.L_DATA_CON ||
  code === CemiMessageCode.L_DATA_IND;
const isProperty = (code: number): boolean =>
  code === CemiMessageCode.M_PROP_READ_REQ ||
  code === CemiMessageCode.M_PROP_READ_CON ||
  code === CemiMessageCode.M_PROP_WRITE_REQ ||
  code === CemiMessageCode.M_PROP_WRITE_CON ||
  code === CemiMessageCode.M_PROP_INFO_IND;

function readAdditionalInfo(r: ByteReader): AdditionalInfo[] {
  const length = r.u8('cEMI additional info length');
  r.need(length, 'cEMI additional info');
  const end = r.position + length;
  const items: AdditionalInfo[] = [];
  // Gateways do send additional info (knx.js crashed on it); every TLV must fit in addIL.
  while (r.position < end) {
    const type = r.u8('additional info type');
    const itemLength = r.u8('additional info length');
    if (r.position + itemLength > end) {
      throw cemiError(
        `additional info item 0x${type.toString(16)} of ${itemLength} octets overruns addIL ${length}`,
        {
          type,
          itemLength,
          addIL: length,
        },
      );
    }
    items.push({ type, data: r.take(itemLength, 'additional info data') });
  }
  return items;
}

/** Decodes one cEMI frame that fills `bytes` exactly. */
export function decodeCemi(bytes: Uint8Array, start = 0, end = bytes.length): Cemi {
  const r = new ByteReader(bytes, start, end);
  const messageCode = r.u8('cEMI message code');
  if (isLData(messageCode)) return decodeLData(r, messageCode);
  if (messageCode === CemiMessageCode.L_BUSMON_IND) {
    const additionalInfo = readAdditionalInfo(r);
    return { kind: 'busmon', messageCode, additionalInfo, raw: r.take(r.remaining, 'busmonitor frame') };
  }
  if (isProperty(messageCode)) {
    const objectType = r.u16('property object type');
    const objectInstance = r.u8('property object instance');
    const propertyId = r.u8('property id');
    const countIndex = r.u16('property count/start index');
    return {
      kind: 'property',
      messageCode,
      objectType,
      objectInstance,
      propertyId,
      count: countIndex >> 12,
      startIndex: countIndex & 0x0fff,
      data: r.take(r.remaining, 'property data'),
    };
  }
  return { kind: 'raw', messageCode, data: r.take(r.remaining, 'cEMI data') };
}

function decodeLData(r: ByteReader, messageCode: number): LDataFrame {
  const additionalInfo = readAdditionalInfo(r);
  const ctrl1 = r.u8('cEMI control field 1');
  const ctrl2 = r.u8('cEMI control field 2');
  const source = r.u16('cEMI source address');
  const destination = r.u16('cEMI destination address');
  const length = r.u8('cEMI data length');
  const standardFrame = (ctrl1 & 0x80) !== 0;
  const limit = standardFrame ? MAX_STANDARD_DATA_LENGTH : MAX_EXTENDED_DATA_LENGTH;
  if (length > limit) {
    throw cemiError(
      `cEMI data length ${length} exceeds ${limit} for a ${standardFrame ? 'standard' : 'extended'} frame`,
      {
        length,
      },
    );
  }
  if (r.remaining !== length + 1) {
    throw cemiError(`cEMI data length says ${length + 1} TPDU octet(s) but the frame holds ${r.remaining}`, {
      length,
      remaining: r.remaining,
    });
  }
  const b0 = r.u8('TPCI');
  const tpdu: Tpdu =
    length === 0
      ? { tpci: b0 >> 2, data: new Uint8Array(0) }
      : { tpci: b0 >> 2, apci: ((b0 & 0x03) << 8) | r.u8('APCI'), data: r.take(length - 1, 'APDU data') };
  return {
    kind: 'ldata',
    messageCode,
    additionalInfo,
    standardFrame,
    reservedBit: (ctrl1 & 0x40) !== 0,
    doNotRepeat: (ctrl1 & 0x20) !== 0,
    broadcast: (ctrl1 & 0x10) !== 0,
    priority: priorities[(ctrl1 >> 2) & 0x03]!,
    ackRequest: (ctrl1 & 0x02) !== 0,
    confirmError: (ctrl1 & 0x01) !== 0,
    groupDestination: (ctrl2 & 0x80) !== 0,
    hopCount: (ctrl2 >> 4) & 0x07,
    extendedFormat: ctrl2 & 0x0f,
    source,
    destination,
    tpdu,
  };
}

export function encodeCemi(frame: Cemi): Uint8Array {
  const w = new ByteWriter();
  writeCemi(w, frame);
  return w.finish();
}

function writeAdditionalInfo(w: ByteWriter, items: readonly AdditionalInfo[]): void {
  const total = items.reduce((sum, item) => sum + 2 + item.data.length, 0);
  if (total > 255) throw cemiError(`additional info of ${total} octets exceeds 255`, { total });
  w.u8(total);
  for (const item of items) w.u8(item.type).u8(item.data.length).bytes(item.data);
}

export function writeCemi(w: ByteWriter, frame: Cemi): void {
  w.u8(frame.messageCode);
  if (frame.kind === 'ldata') {
    writeAdditionalInfo(w, frame.additionalInfo);
    const length = frame.tpdu.apci === undefined ? 0 : 1 + frame.tpdu.data.length;
    const limit = frame.standardFrame ? MAX_STANDARD_DATA_LENGTH : MAX_EXTENDED_DATA_LENGTH;
    if (length > limit)
      throw cemiError(`APDU of ${length} octets exceeds ${limit}; use an extended frame`, { length });
    const ctrl1 =
      (frame.standardFrame ? 0x80 : 0) |
      (frame.reservedBit ? 0x40 : 0) |
      (frame.doNotRepeat ? 0x20 : 0) |
      (frame.broadcast ? 0x10 : 0) |
      (priorities.indexOf(frame.priority) << 2) |
      (frame.ackRequest ? 0x02 : 0) |
      (frame.confirmError ? 0x01 : 0);
    const ctrl2 =
      (frame.groupDestination ? 0x80 : 0) | ((frame.hopCount & 0x07) << 4) | (frame.extendedFormat & 0x0f);
    w.u8(ctrl1).u8(ctrl2).u16(frame.source).u16(frame.destination).u8(length);
    const apci = frame.tpdu.apci;
    w.u8(((frame.tpdu.tpci & 0x3f) << 2) | (apci === undefined ? 0 : (apci >> 8) & 0x03));
    if (apci !== undefined) w.u8(apci & 0xff).bytes(frame.tpdu.data);
  } else if (frame.kind === 'busmon') {
    writeAdditionalInfo(w, frame.additionalInfo);
    w.bytes(frame.raw);
  } else if (frame.kind === 'property') {
    w.u16(frame.objectType).u8(frame.objectInstance).u8(frame.propertyId);
    w.u16(((frame.count & 0x0f) << 12) | (frame.startIndex & 0x0fff)).bytes(frame.data);
  } else {
    w.bytes(frame.data);
  }
}

/** The group service of a T_Data_Group TPDU, or undefined for any other APDU. */
export function groupService(tpdu: Tpdu): GroupService | undefined {
  if (tpdu.apci === undefined || tpdu.tpci !== 0) return undefined;
  const service = tpdu.apci & 0x3c0;
  if (service === Apci.GROUP_READ && (tpdu.apci & 0x3f) === 0 && tpdu.data.length === 0)
    return 'GroupValue_Read';
  if (service === Apci.GROUP_RESPONSE) return 'GroupValue_Response';
  if (service === Apci.GROUP_WRITE) return 'GroupValue_Write';
  return undefined;
}

/** The value bits of a group Response/Write: 6-bit short data, or the long data octets. */
export type GroupPayload = { shortData: number } | { data: Uint8Array };

export function groupPayload(tpdu: Tpdu): GroupPayload | undefined {
  if (tpdu.apci === undefined) return undefined;
  if (tpdu.data.length > 0) return { data: tpdu.data };
  return { shortData: tpdu.apci & 0x3f };
}

export type GroupTelegramOptions = {
  messageCode?: number;
  source?: number;
  priority?: Priority;
  hopCount?: number;
};

/** Builds a group telegram (L_Data.req by default) the way KNX devices send it: standard frame, low priority, hop 6. */
export function groupTelegram(
  service: GroupService,
  destination: number,
  payload: GroupPayload | undefined,
  options: GroupTelegramOptions = {},
): LDataFrame {
  const base =
    service === 'GroupValue_Read'
      ? Apci.GROUP_READ
      : service === 'GroupValue_Response'
        ? Apci.GROUP_RESPONSE
        : Apci.GROUP_WRITE;
  let apci: number = base;
  let data: Uint8Array = new Uint8Array(0);
  if (service !== 'GroupValue_Read') {
    if (!payload) throw cemiError(`${service} needs a value`);
    if ('shortData' in payload) {
      if (payload.shortData < 0 || payload.shortData > 0x3f) throw cemiError('short data must fit in 6 bits');
      apci = base | payload.shortData;
    } else data = payload.data;
  }
  return {
    kind: 'ldata',
    messageCode: options.messageCode ?? CemiMessageCode.L_DATA_REQ,
    additionalInfo: [],
    standardFrame: 1 + data.length <= MAX_STANDARD_DATA_LENGTH,
    reservedBit: false,
    doNotRepeat: true,
    broadcast: true,
    priority: options.priority ?? 'low',
    ackRequest: false,
    confirmError: false,
    groupDestination: true,
    hopCount: options.hopCount ?? 6,
    extendedFormat: 0,
    source: options.source ?? 0,
    destination,
    tpdu: { tpci: 0, apci, data },
  };
}
