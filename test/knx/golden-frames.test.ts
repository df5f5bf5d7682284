import { describe, expect, it } from 'vitest';
import { formatGroupAddress, formatIndividualAddress } from '../../adapters/knx/address.js';
import { fromHex, toHex } from '../../adapters/knx/bytes.js';
import type { LDataFrame, PropertyFrame } from '../../adapters/knx/cemi.js';
import { groupPayload, groupService } from '../../adapters/knx/cemi.js';
import { decodeDpt } from '../../adapters/knx/dpt.js';
import { decodeFrame, encodeFrame, type FrameOf, type KnxFrame } from '../../adapters/knx/frame.js';

// Golden frames F1–F20 from ../shared/reference/knx.md §2.1 (xknx tests, KNX Ultimate sniffs,
// live knxd captures, knxd issue #235). Each must decode to its documented meaning and, where
// canonical, re-encode byte-identical.

function as<S extends KnxFrame['service']>(frame: KnxFrame, service: S): FrameOf<S> {
  expect(frame.service).toBe(service);
  return frame as FrameOf<S>;
}

function roundTrip(hex: string): KnxFrame {
  const bytes = fromHex(hex);
  const frame = decodeFrame(bytes);
  expect(toHex(encodeFrame(frame))).toBe(toHex(bytes));
  return frame;
}

function ldata(frame: KnxFrame): LDataFrame {
  const cemi = 'cemi' in frame ? frame.cemi : undefined;
  expect(cemi?.kind).toBe('ldata');
  return cemi as LDataFrame;
}

const GIRA = `06 10 02 02 00 50 08 01 C0 A8 2A 0A 0E 57 36 01 02 00 11 00 00 00 11 22 33 44 55 66 E0 00 17 0C 01 02 03 04 05 06 47 69 72 61 20 4B 4E 58 2F 49 50 2D 52 6F 75 74 65 72 ${'00 '.repeat(12)} 0C 02 02 01 03 02 04 01 05 01 07 01`;
const KNXD_SEARCH = `06 10 02 02 00 4A 08 01 7F 00 00 01 0E 57 36 01 02 00 11 FA 00 00 01 02 03 04 05 06 E0 00 17 0C 02 FC 00 00 00 01 6B 6E 78 64 ${'00 '.repeat(26)} 06 02 02 01 04 01`;
const HPAI_A = '08 01 C0 A8 2A 01 84 95';
const HPAI_B = '08 01 C0 A8 2A 01 CC A9';

describe('golden KNXnet/IP frames (reference §2.1)', () => {
  it('F1 SEARCH_REQUEST names the discovery endpoint 224.0.23.12:3671', () => {
    const f = as(roundTrip('06 10 02 01 00 0E 08 01 E0 00 17 0C 0E 57'), 'SEARCH_REQUEST');
    expect(f.discovery).toEqual({ protocol: 'udp', ip: '224.0.23.12', port: 3671 });
  });

  it('F2 SEARCH_RESPONSE from a Gira router decodes device info and service families', () => {
    const f = as(roundTrip(GIRA), 'SEARCH_RESPONSE');
    expect(f.control).toEqual({ protocol: 'udp', ip: '192.168.42.10', port: 3671 });
    const [info, families] = f.dibs;
    expect(info).toMatchObject({
      type: 'deviceInfo',
      medium: 0x02,
      programmingMode: false,
      serialNumber: '112233445566',
      multicastAddress: '224.0.23.12',
      macAddress: '01:02:03:04:05:06',
      friendlyName: 'Gira KNX/IP-Router',
    });
    expect(info?.type === 'deviceInfo' && formatIndividualAddress(info.individualAddress)).toBe('1.1.0');
    expect(families).toEqual({
      type: 'supportedServices',
      families: [
        { family: 2, version: 1 },
        { family: 3, version: 2 },
        { family: 4, version: 1 },
        { family: 5, version: 1 },
        { family: 7, version: 1 },
      ],
    });
  });

  it('F3 knxd SEARCH_RESPONSE: IA 1.1.250, name knxd, Core v1 and Tunnelling v1 only', () => {
    const f = as(roundTrip(KNXD_SEARCH), 'SEARCH_RESPONSE');
    expect(f.control).toEqual({ protocol: 'udp', ip: '127.0.0.1', port: 3671 });
    const info = f.dibs[0];
    expect(info?.type === 'deviceInfo' && formatIndividualAddress(info.individualAddress)).toBe('1.1.250');
    expect(info?.type === 'deviceInfo' && info.friendlyName).toBe('knxd');
    expect(f.dibs[1]).toEqual({
      type: 'supportedServices',
      families: [
        { family: 2, version: 1 },
        { family: 4, version: 1 },
      ],
    });
  });

  it('F4 CONNECT_REQUEST carries control and data endpoints and a link-layer tunnel CRI', () => {
    const f = as(roundTrip(`06 10 02 05 00 1A ${HPAI_A} ${HPAI_B} 04 04 02 00`), 'CONNECT_REQUEST');
    expect(f.control).toEqual({ protocol: 'udp', ip: '192.168.42.1', port: 33941 });
    expect(f.data).toEqual({ protocol: 'udp', ip: '192.168.42.1', port: 52393 });
    expect(f.cri).toEqual({ connectionType: 'tunnel', layer: 0x02 });
  });

  it('F5 CONNECT_REQUEST with an extended CRI asks for IA 0.1.2', () => {
    const f = as(roundTrip(`06 10 02 05 00 1C ${HPAI_A} ${HPAI_B} 06 04 02 00 01 02`), 'CONNECT_REQUEST');
    expect(f.cri.connectionType === 'tunnel' && formatIndividualAddress(f.cri.individualAddress ?? -1)).toBe(
      '0.1.2',
    );
  });

  it('F6 CONNECT_RESPONSE: channel 1, OK, data endpoint 192.168.42.10:3671, tunnel IA 1.1.255', () => {
    const f = as(
      roundTrip('06 10 02 06 00 14 01 00 08 01 C0 A8 2A 0A 0E 57 04 04 11 FF'),
      'CONNECT_RESPONSE',
    );
    expect(f).toMatchObject({ channelId: 1, status: 0, data: { ip: '192.168.42.10', port: 3671 } });
    expect(f.crd?.connectionType === 'tunnel' && formatIndividualAddress(f.crd.individualAddress)).toBe(
      '1.1.255',
    );
  });

  it('F7 the short 8-octet error CONNECT_RESPONSE is accepted: E_NO_MORE_CONNECTIONS', () => {
    const f = as(roundTrip('06 10 02 06 00 08 00 24'), 'CONNECT_RESPONSE');
    expect(f).toEqual({ service: 'CONNECT_RESPONSE', channelId: 0, status: 0x24 });
  });

  it('F8 route-back (NAT) HPAIs in a CONNECT_REQUEST and the response for channel 0x51', () => {
    const req = as(
      roundTrip('06 10 02 05 00 1A 08 01 00 00 00 00 00 00 08 01 00 00 00 00 00 00 04 04 02 00'),
      'CONNECT_REQUEST',
    );
    expect(req.control).toEqual({ protocol: 'udp', ip: '0.0.0.0', port: 0 });
    expect(req.data).toEqual({ protocol: 'udp', ip: '0.0.0.0', port: 0 });
    const res = as(
      roundTrip('06 10 02 06 00 14 51 00 08 01 C0 A8 01 74 0E 57 04 04 AF FB'),
      'CONNECT_RESPONSE',
    );
    expect(res.channelId).toBe(0x51);
    expect(res.data).toEqual({ protocol: 'udp', ip: '192.168.1.116', port: 3671 });
    expect(res.crd?.connectionType === 'tunnel' && formatIndividualAddress(res.crd.individualAddress)).toBe(
      '10.15.251',
    );
  });

  it('F9 CONNECTIONSTATE_REQUEST for channel 21 from 192.168.200.12:50100', () => {
    const f = as(roundTrip('06 10 02 07 00 10 15 00 08 01 C0 A8 C8 0C C3 B4'), 'CONNECTIONSTATE_REQUEST');
    expect(f).toEqual({
      service: 'CONNECTIONSTATE_REQUEST',
      channelId: 21,
      control: { protocol: 'udp', ip: '192.168.200.12', port: 50100 },
    });
  });

  it('F10 CONNECTIONSTATE_RESPONSE OK and E_CONNECTION_ID', () => {
    expect(roundTrip('06 10 02 08 00 08 01 00')).toEqual({
      service: 'CONNECTIONSTATE_RESPONSE',
      channelId: 1,
      status: 0,
    });
    expect(roundTrip('06 10 02 08 00 08 15 21')).toEqual({
      service: 'CONNECTIONSTATE_RESPONSE',
      channelId: 21,
      status: 0x21,
    });
  });

  it('F11 DISCONNECT_REQUEST for channel 21', () => {
    const f = as(roundTrip('06 10 02 09 00 10 15 00 08 01 C0 A8 C8 0C C3 B4'), 'DISCONNECT_REQUEST');
    expect(f.channelId).toBe(21);
  });

  it("F12 knxd's server-initiated DISCONNECT_REQUEST for channel 2 carries the server's HPAI", () => {
    const f = as(roundTrip('06 10 02 09 00 10 02 00 08 01 7F 00 00 01 0E 57'), 'DISCONNECT_REQUEST');
    expect(f).toEqual({
      service: 'DISCONNECT_REQUEST',
      channelId: 2,
      control: { protocol: 'udp', ip: '127.0.0.1', port: 3671 },
    });
  });

  it('F13 TUNNELLING_REQUEST seq 23: L_Data.req from 0.0.0 to 9/0/8, GroupValue_Write 1', () => {
    const f = as(
      roundTrip('06 10 04 20 00 15 04 01 17 00 11 00 BC E0 00 00 48 08 01 00 81'),
      'TUNNELLING_REQUEST',
    );
    expect(f).toMatchObject({ channelId: 1, sequence: 23 });
    const c = ldata(f);
    expect(c.messageCode).toBe(0x11);
    expect(formatIndividualAddress(c.source)).toBe('0.0.0');
    expect(formatGroupAddress(c.destination)).toBe('9/0/8');
    expect(c).toMatchObject({ standardFrame: true, doNotRepeat: true, broadcast: true, priority: 'low' });
    expect(c).toMatchObject({ groupDestination: true, hopCount: 6 });
    expect(groupService(c.tpdu)).toBe('GroupValue_Write');
    expect(groupPayload(c.tpdu)).toEqual({ shortData: 1 });
  });

  it('F14 TUNNELLING_ACK channel 42 seq 23 E_NO_ERROR', () => {
    expect(roundTrip('06 10 04 21 00 0A 04 2A 17 00')).toEqual({
      service: 'TUNNELLING_ACK',
      channelId: 42,
      sequence: 23,
      status: 0,
    });
  });

  it('F15 positive L_Data.con for a write of 1 to 0/0/1 from 10.15.251', () => {
    const c = ldata(roundTrip('06 10 04 20 00 15 04 51 00 00 2E 00 BC E0 AF FB 00 01 01 00 81'));
    expect(c.messageCode).toBe(0x2e);
    expect(c.confirmError).toBe(false);
    expect(formatIndividualAddress(c.source)).toBe('10.15.251');
    expect(formatGroupAddress(c.destination)).toBe('0/0/1');
    expect(groupPayload(c.tpdu)).toEqual({ shortData: 1 });
  });

  it('F16 ROUTING_INDICATION from 15.15.249 to 0/1/73, GroupValue_Write 0', () => {
    const c = ldata(roundTrip('06 10 05 30 00 11 29 00 BC D0 FF F9 01 49 01 00 80'));
    expect(formatIndividualAddress(c.source)).toBe('15.15.249');
    expect(formatGroupAddress(c.destination)).toBe('0/1/73');
    expect(c.hopCount).toBe(5);
    expect(groupService(c.tpdu)).toBe('GroupValue_Write');
    expect(groupPayload(c.tpdu)).toEqual({ shortData: 0 });
  });

  it('F17 ROUTING_INDICATION 1.2.2 -> 0/1/81 carries DPT 13.010 = 305419896 Wh', () => {
    const c = ldata(roundTrip('06 10 05 30 00 15 29 00 BC D0 12 02 01 51 05 00 80 12 34 56 78'));
    expect(formatIndividualAddress(c.source)).toBe('1.2.2');
    expect(formatGroupAddress(c.destination)).toBe('0/1/81');
    expect(decodeDpt('13.010', groupPayload(c.tpdu)!)).toBe(305419896);
  });

  it('F18 GroupValue_Response with the 1-octet long value F0', () => {
    const c = ldata(roundTrip('06 10 05 30 00 12 29 00 BC D0 12 02 01 51 02 00 40 F0'));
    expect(groupService(c.tpdu)).toBe('GroupValue_Response');
    expect(groupPayload(c.tpdu)).toEqual({ data: Uint8Array.of(0xf0) });
  });

  it('F19 ROUTING_BUSY waits 100 ms with control 0; ROUTING_LOST_MESSAGE counts 5', () => {
    expect(roundTrip('06 10 05 32 00 0C 06 00 00 64 00 00')).toEqual({
      service: 'ROUTING_BUSY',
      deviceState: 0,
      waitTimeMs: 100,
      control: 0,
    });
    expect(roundTrip('06 10 05 31 00 0A 04 00 00 05')).toEqual({
      service: 'ROUTING_LOST_MESSAGE',
      deviceState: 0,
      lostMessages: 5,
    });
  });

  it('F20 DEVICE_CONFIGURATION_REQUEST: M_PropRead.req IOT 0 instance 1 PID 83, and its ACK', () => {
    const f = as(
      roundTrip('06 10 03 10 00 11 04 03 00 00 FC 00 00 01 53 10 01'),
      'DEVICE_CONFIGURATION_REQUEST',
    );
    expect(f).toMatchObject({ channelId: 3, sequence: 0 });
    const p = f.cemi as PropertyFrame;
    expect(p).toMatchObject({ kind: 'property', messageCode: 0xfc, objectType: 0, objectInstance: 1 });
    expect(p).toMatchObject({ propertyId: 83, count: 1, startIndex: 1 });
    expect(roundTrip('06 10 03 11 00 0A 04 03 00 00')).toEqual({
      service: 'DEVICE_CONFIGURATION_ACK',
      channelId: 3,
      sequence: 0,
      status: 0,
    });
  });
});
