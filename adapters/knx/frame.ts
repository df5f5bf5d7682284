import { ByteReader, ByteWriter } from './bytes.js';
import { type Cemi, decodeCemi, writeCemi } from './cemi.js';
import {
  HEADER_SIZE_BYTES,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  type ServiceName,
  ServiceType,
  serviceName,
} from './constants.js';
import { KnxError } from './errors.js';
import {
  type Crd,
  type Cri,
  type Dib,
  type Hpai,
  readCrd,
  readCri,
  readDib,
  readHpai,
  writeCrd,
  writeCri,
  writeDib,
  writeHpai,
} from './structures.js';

/**
 * KNXnet/IP frames: the 6-octet header and the body of every Core, Device Management,
 * Tunnelling and Routing service (reference §1.2–1.3). Pure: bytes in, typed frame out.
 *
 * Strict where misreading would corrupt data (header, declared lengths, structure sizes,
 * trailing octets inside a body); lenient where real gateways are sloppy (the 8-octet error
 * CONNECT_RESPONSE, a ROUTING_BUSY without its control field). Octets after the header's
 * total length are ignored, as UDP padding.
 */

export type KnxFrame =
  | { service: 'SEARCH_REQUEST'; discovery: Hpai }
  | { service: 'SEARCH_RESPONSE'; control: Hpai; dibs: Dib[] }
  | { service: 'DESCRIPTION_REQUEST'; control: Hpai }
  | { service: 'DESCRIPTION_RESPONSE'; dibs: Dib[] }
  | { service: 'CONNECT_REQUEST'; control: Hpai; data: Hpai; cri: Cri }
  | { service: 'CONNECT_RESPONSE'; channelId: number; status: number; data?: Hpai; crd?: Crd }
  | { service: 'CONNECTIONSTATE_REQUEST'; channelId: number; control: Hpai }
  | { service: 'CONNECTIONSTATE_RESPONSE'; channelId: number; status: number }
  | { service: 'DISCONNECT_REQUEST'; channelId: number; control: Hpai }
  | { service: 'DISCONNECT_RESPONSE'; channelId: number; status: number }
  | { service: 'TUNNELLING_REQUEST'; channelId: number; sequence: number; cemi: Cemi }
  | { service: 'TUNNELLING_ACK'; channelId: number; sequence: number; status: number }
  | { service: 'DEVICE_CONFIGURATION_REQUEST'; channelId: number; sequence: number; cemi: Cemi }
  | { service: 'DEVICE_CONFIGURATION_ACK'; channelId: number; sequence: number; status: number }
  | { service: 'ROUTING_INDICATION'; cemi: Cemi }
  | { service: 'ROUTING_SYSTEM_BROADCAST'; cemi: Cemi }
  | { service: 'ROUTING_LOST_MESSAGE'; deviceState: number; lostMessages: number }
  | { service: 'ROUTING_BUSY'; deviceState: number; waitTimeMs: number; control: number };

export type FrameOf<S extends ServiceName> = Extract<KnxFrame, { service: S }>;

export type KnxHeader = { headerLength: number; version: number; serviceType: number; totalLength: number };

/** Reads and checks the header; returns it with the service name (undefined if unknown). */
export function decodeHeader(bytes: Uint8Array): KnxHeader & { service: ServiceName | undefined } {
  if (bytes.length < HEADER_SIZE_BYTES) {
    throw new KnxError(
      'MF_KNX_FRAME_TRUNCATED',
      `datagram of ${bytes.length} octet(s) is shorter than the 6-octet header`,
      {
        sizeBytes: bytes.length,
      },
    );
  }
  if (bytes.length > MAX_FRAME_BYTES) {
    throw new KnxError(
      'MF_KNX_FRAME_TOO_LARGE',
      `datagram of ${bytes.length} octets exceeds ${MAX_FRAME_BYTES}`,
      {
        sizeBytes: bytes.length,
      },
    );
  }
  const headerLength = bytes[0]!;
  const version = bytes[1]!;
  const serviceType = (bytes[2]! << 8) | bytes[3]!;
  const totalLength = (bytes[4]! << 8) | bytes[5]!;
  if (headerLength !== HEADER_SIZE_BYTES) {
    throw new KnxError('MF_KNX_FRAME_HEADER', `header length is ${headerLength}, expected 6`, {
      headerLength,
    });
  }
  if (version !== PROTOCOL_VERSION) {
    throw new KnxError(
      'MF_KNX_FRAME_HEADER',
      `protocol version 0x${version.toString(16)} is not 1.0 (0x10)`,
      { version },
    );
  }
  if (totalLength < HEADER_SIZE_BYTES) {
    throw new KnxError('MF_KNX_FRAME_LENGTH', `total length ${totalLength} is shorter than the header`, {
      totalLength,
    });
  }
  if (totalLength > bytes.length) {
    throw new KnxError(
      'MF_KNX_FRAME_TRUNCATED',
      `frame truncated: header says ${totalLength} octets, datagram has ${bytes.length}`,
      { totalLength, sizeBytes: bytes.length },
    );
  }
  return { headerLength, version, serviceType, totalLength, service: serviceName(serviceType) };
}

function readConnectionHeader(r: ByteReader): { channelId: number; sequence: number; status: number } {
  const length = r.u8('connection header length');
  if (length !== 4) {
    throw new KnxError('MF_KNX_STRUCTURE', `connection header length is ${length}, expected 4`, { length });
  }
  return { channelId: r.u8('channel id'), sequence: r.u8('sequence counter'), status: r.u8('status') };
}

function readDibs(r: ByteReader): Dib[] {
  const dibs: Dib[] = [];
  while (r.remaining > 0) dibs.push(readDib(r));
  return dibs;
}

/** Decodes one KNXnet/IP datagram, or throws a KnxError saying what is wrong with it. */
export function decodeFrame(bytes: Uint8Array): KnxFrame {
  const header = decodeHeader(bytes);
  const r = new ByteReader(bytes, HEADER_SIZE_BYTES, header.totalLength);
  const frame = decodeBody(header, r);
  r.expectEnd(`${header.service} body`);
  return frame;
}

function decodeBody(header: ReturnType<typeof decodeHeader>, r: ByteReader): KnxFrame {
  const service = header.service;
  switch (service) {
    case 'SEARCH_REQUEST':
      return { service, discovery: readHpai(r, 'discovery') };
    case 'SEARCH_RESPONSE':
      return { service, control: readHpai(r, 'control'), dibs: readDibs(r) };
    case 'DESCRIPTION_REQUEST':
      return { service, control: readHpai(r, 'control') };
    case 'DESCRIPTION_RESPONSE':
      return { service, dibs: readDibs(r) };
    case 'CONNECT_REQUEST':
      return { service, control: readHpai(r, 'control'), data: readHpai(r, 'data'), cri: readCri(r) };
    case 'CONNECT_RESPONSE': {
      const channelId = r.u8('channel id');
      const status = r.u8('status');
      // Real gateways (knxd, MDT) send only channel + status on error: accept that.
      if (status !== 0 && r.remaining === 0) return { service, channelId, status };
      return { service, channelId, status, data: readHpai(r, 'data'), crd: readCrd(r) };
    }
    case 'CONNECTIONSTATE_REQUEST':
    case 'DISCONNECT_REQUEST': {
      const channelId = r.u8('channel id');
      r.u8('reserved');
      return { service, channelId, control: readHpai(r, 'control') };
    }
    case 'CONNECTIONSTATE_RESPONSE':
    case 'DISCONNECT_RESPONSE':
      return { service, channelId: r.u8('channel id'), status: r.u8('status') };
    case 'TUNNELLING_REQUEST':
    case 'DEVICE_CONFIGURATION_REQUEST': {
      const { channelId, sequence } = readConnectionHeader(r);
      const cemi = decodeCemi(r.bytes, r.position, r.end);
      r.take(r.remaining, 'cEMI');
      return { service, channelId, sequence, cemi };
    }
    case 'TUNNELLING_ACK':
    case 'DEVICE_CONFIGURATION_ACK':
      return { service, ...readConnectionHeader(r) };
    case 'ROUTING_INDICATION':
    case 'ROUTING_SYSTEM_BROADCAST': {
      const cemi = decodeCemi(r.bytes, r.position, r.end);
      r.take(r.remaining, 'cEMI');
      return { service, cemi };
    }
    case 'ROUTING_LOST_MESSAGE': {
      const length = r.u8('lost message structure length');
      if (length !== 4)
        throw new KnxError(
          'MF_KNX_STRUCTURE',
          `ROUTING_LOST_MESSAGE structure length is ${length}, expected 4`,
        );
      return { service, deviceState: r.u8('device state'), lostMessages: r.u16('lost messages') };
    }
    case 'ROUTING_BUSY': {
      // Some routers send a 4-octet busy structure without the control field (Calimero #106).
      const length = r.u8('busy structure length');
      if (length !== 6 && length !== 4) {
        throw new KnxError('MF_KNX_STRUCTURE', `ROUTING_BUSY structure length is ${length}, expected 6`, {
          length,
        });
      }
      const deviceState = r.u8('device state');
      const waitTimeMs = r.u16('wait time');
      const control = length === 6 ? r.u16('busy control') : 0;
      return { service, deviceState, waitTimeMs, control };
    }
    case undefined:
      throw new KnxError(
        'MF_KNX_UNKNOWN_SERVICE',
        `unknown or unsupported service type 0x${header.serviceType.toString(16).padStart(4, '0')}`,
        { serviceType: header.serviceType },
      );
  }
}

/** Encodes a frame with its header. */
export function encodeFrame(frame: KnxFrame): Uint8Array {
  const w = new ByteWriter();
  w.u8(HEADER_SIZE_BYTES).u8(PROTOCOL_VERSION).u16(ServiceType[frame.service]).u16(0);
  switch (frame.service) {
    case 'SEARCH_REQUEST':
      writeHpai(w, frame.discovery);
      break;
    case 'SEARCH_RESPONSE':
      writeHpai(w, frame.control);
      for (const dib of frame.dibs) writeDib(w, dib);
      break;
    case 'DESCRIPTION_REQUEST':
      writeHpai(w, frame.control);
      break;
    case 'DESCRIPTION_RESPONSE':
      for (const dib of frame.dibs) writeDib(w, dib);
      break;
    case 'CONNECT_REQUEST':
      writeHpai(w, frame.control);
      writeHpai(w, frame.data);
      writeCri(w, frame.cri);
      break;
    case 'CONNECT_RESPONSE':
      w.u8(frame.channelId).u8(frame.status);
      if (frame.data) writeHpai(w, frame.data);
      if (frame.crd) writeCrd(w, frame.crd);
      break;
    case 'CONNECTIONSTATE_REQUEST':
    case 'DISCONNECT_REQUEST':
      w.u8(frame.channelId).u8(0);
      writeHpai(w, frame.control);
      break;
    case 'CONNECTIONSTATE_RESPONSE':
    case 'DISCONNECT_RESPONSE':
      w.u8(frame.channelId).u8(frame.status);
      break;
    case 'TUNNELLING_REQUEST':
    case 'DEVICE_CONFIGURATION_REQUEST':
      w.u8(4).u8(frame.channelId).u8(frame.sequence).u8(0);
      writeCemi(w, frame.cemi);
      break;
    case 'TUNNELLING_ACK':
    case 'DEVICE_CONFIGURATION_ACK':
      w.u8(4).u8(frame.channelId).u8(frame.sequence).u8(frame.status);
      break;
    case 'ROUTING_INDICATION':
    case 'ROUTING_SYSTEM_BROADCAST':
      writeCemi(w, frame.cemi);
      break;
    case 'ROUTING_LOST_MESSAGE':
      w.u8(4).u8(frame.deviceState).u16(frame.lostMessages);
      break;
    case 'ROUTING_BUSY':
      w.u8(6).u8(frame.deviceState).u16(frame.waitTimeMs).u16(frame.control);
      break;
  }
  const bytes = w.finish();
  if (bytes.length > MAX_FRAME_BYTES) {
    throw new KnxError(
      'MF_KNX_FRAME_TOO_LARGE',
      `encoded frame of ${bytes.length} octets exceeds ${MAX_FRAME_BYTES}`,
    );
  }
  bytes[4] = bytes.length >> 8;
  bytes[5] = bytes.length & 0xff;
  return bytes;
}
