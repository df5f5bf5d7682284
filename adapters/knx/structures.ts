import type { ByteReader, ByteWriter } from './bytes.js';
import { ConnectionType, DibType, TunnelLayer } from './constants.js';
import { KnxError } from './errors.js';

/**
 * KNXnet/IP structures: HPAI, CRI, CRD and DIBs (reference §1.3). Each has a fixed or
 * self-declared length; a declared length that disagrees with the structure's type is an
 * MF_KNX_STRUCTURE error, because reading on would misalign every later field.
 */

export type Hpai = { protocol: 'udp' | 'tcp'; ip: string; port: number };

/** The route-back (NAT) HPAI: 0.0.0.0:0 means "reply to the datagram's source". */
export const ROUTE_BACK_HPAI: Hpai = { protocol: 'udp', ip: '0.0.0.0', port: 0 };

export function isRouteBack(hpai: Hpai): boolean {
  return hpai.ip === '0.0.0.0' && hpai.port === 0;
}

function structureError(message: string, details: Record<string, unknown>): KnxError {
  return new KnxError('MF_KNX_STRUCTURE', message, details);
}

export function readHpai(r: ByteReader, what: string): Hpai {
  const length = r.u8(`${what} HPAI length`);
  if (length !== 8) throw structureError(`${what} HPAI length is ${length}, expected 8`, { length });
  const protocolCode = r.u8(`${what} HPAI protocol`);
  if (protocolCode !== 0x01 && protocolCode !== 0x02) {
    throw structureError(`${what} HPAI host protocol 0x${protocolCode.toString(16)} is neither UDP nor TCP`, {
      protocolCode,
    });
  }
  const ip = Array.from(r.take(4, `${what} HPAI address`)).join('.');
  const port = r.u16(`${what} HPAI port`);
  return { protocol: protocolCode === 0x01 ? 'udp' : 'tcp', ip, port };
}

export function writeHpai(w: ByteWriter, hpai: Hpai): void {
  const octets = hpai.ip.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw structureError(`HPAI address "${hpai.ip}" is not an IPv4 address`, { ip: hpai.ip });
  }
  w.u8(8)
    .u8(hpai.protocol === 'udp' ? 0x01 : 0x02)
    .bytes(octets)
    .u16(hpai.port);
}

/** Connection request information: tunnel (with layer, optionally a requested IA) or device management. */
export type Cri =
  | { connectionType: 'tunnel'; layer: number; individualAddress?: number }
  | { connectionType: 'deviceManagement' }
  | { connectionType: 'other'; code: number; data: Uint8Array };

export function readCri(r: ByteReader): Cri {
  const length = r.u8('CRI length');
  const type = r.u8('CRI connection type');
  if (type === ConnectionType.TUNNEL) {
    if (length !== 4 && length !== 6)
      throw structureError(`tunnel CRI length is ${length}, expected 4 or 6`, { length });
    const layer = r.u8('CRI layer');
    r.u8('CRI reserved');
    if (length === 6)
      return { connectionType: 'tunnel', layer, individualAddress: r.u16('CRI individual address') };
    return { connectionType: 'tunnel', layer };
  }
  if (type === ConnectionType.DEVICE_MGMT) {
    if (length !== 2)
      throw structureError(`device management CRI length is ${length}, expected 2`, { length });
    return { connectionType: 'deviceManagement' };
  }
  if (length < 2) throw structureError(`CRI length ${length} is below 2`, { length });
  return { connectionType: 'other', code: type, data: r.take(length - 2, 'CRI data') };
}

export function writeCri(w: ByteWriter, cri: Cri): void {
  if (cri.connectionType === 'tunnel') {
    if (cri.individualAddress === undefined) w.u8(4).u8(ConnectionType.TUNNEL).u8(cri.layer).u8(0);
    else w.u8(6).u8(ConnectionType.TUNNEL).u8(cri.layer).u8(0).u16(cri.individualAddress);
  } else if (cri.connectionType === 'deviceManagement') {
    w.u8(2).u8(ConnectionType.DEVICE_MGMT);
  } else {
    w.u8(2 + cri.data.length)
      .u8(cri.code)
      .bytes(cri.data);
  }
}

export const TUNNEL_LINK_LAYER_CRI: Cri = { connectionType: 'tunnel', layer: TunnelLayer.LINK };

/** Connection response data: a tunnel's individual address, or nothing for device management. */
export type Crd =
  | { connectionType: 'tunnel'; individualAddress: number }
  | { connectionType: 'deviceManagement' }
  | { connectionType: 'other'; code: number; data: Uint8Array };

export function readCrd(r: ByteReader): Crd {
  const length = r.u8('CRD length');
  const type = r.u8('CRD connection type');
  if (type === ConnectionType.TUNNEL) {
    if (length !== 4) throw structureError(`tunnel CRD length is ${length}, expected 4`, { length });
    return { connectionType: 'tunnel', individualAddress: r.u16('CRD individual address') };
  }
  if (type === ConnectionType.DEVICE_MGMT) {
    if (length !== 2)
      throw structureError(`device management CRD length is ${length}, expected 2`, { length });
    return { connectionType: 'deviceManagement' };
  }
  if (length < 2) throw structureError(`CRD length ${length} is below 2`, { length });
  return { connectionType: 'other', code: type, data: r.take(length - 2, 'CRD data') };
}

export function writeCrd(w: ByteWriter, crd: Crd): void {
  if (crd.connectionType === 'tunnel') w.u8(4).u8(ConnectionType.TUNNEL).u16(crd.individualAddress);
  else if (crd.connectionType === 'deviceManagement') w.u8(2).u8(ConnectionType.DEVICE_MGMT);
  else
    w.u8(2 + crd.data.length)
      .u8(crd.code)
      .bytes(crd.data);
}

export type DeviceInfoDib = {
  type: 'deviceInfo';
  medium: number;
  programmingMode: boolean;
  /** The whole device status octet, bit 0 being programming mode. */
  deviceStatus: number;
  individualAddress: number;
  projectInstallationId: number;
  serialNumber: string;
  multicastAddress: string;
  macAddress: string;
  friendlyName: string;
};
export type SupportedServicesDib = {
  type: 'supportedServices';
  families: { family: number; version: number }[];
};
export type OtherDib = { type: 'other'; code: number; data: Uint8Array };
export type Dib = DeviceInfoDib | SupportedServicesDib | OtherDib;

const DEVICE_INFO_DIB_BYTES = 54;
const FRIENDLY_NAME_BYTES = 30;

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function latin1(bytes: Uint8Array): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  return String.fromCharCode(...bytes.subarray(0, end));
}

export function readDib(r: ByteReader): Dib {
  const start = r.position;
  const length = r.u8('DIB length');
  const code = r.u8('DIB type');
  if (length < 2) throw structureError(`DIB length ${length} is below 2`, { length, code });
  r.need(length - 2, `DIB 0x${code.toString(16)} body`);
  if (code === DibType.DEVICE_INFO) {
    if (length !== DEVICE_INFO_DIB_BYTES) {
      throw structureError(`DEVICE_INFO DIB length is ${length}, expected ${DEVICE_INFO_DIB_BYTES}`, {
        length,
      });
    }
    const medium = r.u8('medium');
    const deviceStatus = r.u8('device status');
    const individualAddress = r.u16('individual address');
    const projectInstallationId = r.u16('project installation id');
    const serialNumber = hexOf(r.take(6, 'serial number'));
    const multicastAddress = Array.from(r.take(4, 'multicast address')).join('.');
    const macAddress = Array.from(r.take(6, 'MAC address'), (b) => b.toString(16).padStart(2, '0')).join(':');
    const friendlyName = latin1(r.take(FRIENDLY_NAME_BYTES, 'friendly name'));
    return {
      type: 'deviceInfo',
      medium,
      programmingMode: (deviceStatus & 0x01) === 1,
      deviceStatus,
      individualAddress,
      projectInstallationId,
      serialNumber,
      multicastAddress,
      macAddress,
      friendlyName,
    };
  }
  if (code === DibType.SUPP_SVC_FAMILIES) {
    if (length % 2 !== 0) throw structureError(`SUPP_SVC_FAMILIES DIB length ${length} is odd`, { length });
    const families: { family: number; version: number }[] = [];
    while (r.position < start + length) families.push({ family: r.u8('family'), version: r.u8('version') });
    return { type: 'supportedServices', families };
  }
  return { type: 'other', code, data: r.take(length - 2, 'DIB data') };
}

export function writeDib(w: ByteWriter, dib: Dib): void {
  if (dib.type === 'deviceInfo') {
    const serial = dib.serialNumber.padStart(12, '0');
    const mac = dib.macAddress.split(':');
    w.u8(DEVICE_INFO_DIB_BYTES).u8(DibType.DEVICE_INFO).u8(dib.medium).u8(dib.deviceStatus);
    w.u16(dib.individualAddress).u16(dib.projectInstallationId);
    for (let i = 0; i < 6; i++) w.u8(Number.parseInt(serial.slice(i * 2, i * 2 + 2), 16));
    w.bytes(dib.multicastAddress.split('.').map(Number));
    for (let i = 0; i < 6; i++) w.u8(Number.parseInt(mac[i] ?? '0', 16));
    const name = new Uint8Array(FRIENDLY_NAME_BYTES);
    for (let i = 0; i < Math.min(dib.friendlyName.length, FRIENDLY_NAME_BYTES); i++) {
      name[i] = dib.friendlyName.charCodeAt(i) & 0xff;
    }
    w.bytes(name);
  } else if (dib.type === 'supportedServices') {
    w.u8(2 + dib.families.length * 2).u8(DibType.SUPP_SVC_FAMILIES);
    for (const f of dib.families) w.u8(f.family).u8(f.version);
  } else {
    w.u8(2 + dib.data.length)
      .u8(dib.code)
      .bytes(dib.data);
  }
}
