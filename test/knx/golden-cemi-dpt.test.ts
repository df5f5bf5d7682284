import { describe, expect, it } from 'vitest';
import {
  formatGroupAddress,
  formatIndividualAddress,
  parseGroupAddress,
  parseIndividualAddress,
} from '../../adapters/knx/address.js';
import { fromHex, toHex } from '../../adapters/knx/bytes.js';
import {
  type Cemi,
  decodeCemi,
  encodeCemi,
  groupPayload,
  groupService,
  type LDataFrame,
} from '../../adapters/knx/cemi.js';
import { decodeDpt, encodeDpt } from '../../adapters/knx/dpt.js';
import { decodeFrame } from '../../adapters/knx/frame.js';

// cEMI payloads C1–C11 (live knxd captures and xknx), DPT-only vectors and addresses from
// ../shared/reference/knx.md §2.2.

function cemi(hex: string): Cemi {
  const bytes = fromHex(hex);
  const frame = decodeCemi(bytes);
  expect(toHex(encodeCemi(frame))).toBe(toHex(bytes));
  return frame;
}

function ldata(hex: string): LDataFrame {
  const frame = cemi(hex);
  expect(frame.kind).toBe('ldata');
  return frame as LDataFrame;
}

function value(hex: string, dpt: string): unknown {
  const c = ldata(hex);
  return decodeDpt(dpt, groupPayload(c.tpdu)!);
}

describe('golden cEMI frames (reference §2.2)', () => {
  it('C1 1.1.252 -> 1/2/3 GroupValue_Write DPT 1.001 on', () => {
    const c = ldata('29 00 BC D0 11 FC 0A 03 01 00 81');
    expect(c.messageCode).toBe(0x29);
    expect(formatIndividualAddress(c.source)).toBe('1.1.252');
    expect(formatGroupAddress(c.destination)).toBe('1/2/3');
    expect(groupService(c.tpdu)).toBe('GroupValue_Write');
    expect(decodeDpt('1.001', groupPayload(c.tpdu)!)).toBe(true);
  });

  it('C2 GroupValue_Read of 1/2/3', () => {
    const c = ldata('29 00 BC D0 11 FC 0A 03 01 00 00');
    expect(groupService(c.tpdu)).toBe('GroupValue_Read');
  });

  it('C3 3/0/1 DPT 5.001 0x80 reads 50.2 %', () => {
    expect(value('29 00 BC D0 11 FE 18 01 02 00 80 80', '5.001')).toBeCloseTo(50.196, 3);
  });

  it('C4 0/0/10 DPT 9.001 = 21.00 degC', () => {
    expect(value('29 00 BC D0 11 FD 00 0A 03 00 80 0C 1A', '9.001')).toBe(21);
  });

  it('C5 5/1/20 DPT 13.013 = 12345 kWh (13.010 reads 12345 Wh)', () => {
    const hex = '29 00 BC D0 11 FE 29 14 05 00 80 00 00 30 39';
    expect(formatGroupAddress(ldata(hex).destination)).toBe('5/1/20');
    expect(value(hex, '13.013')).toBe(12345);
    expect(value(hex, '13.010')).toBe(12345);
  });

  it('C6 5/1/21 DPT 14.056 = 5000.0 W', () => {
    expect(value('29 00 BC D0 11 FC 29 15 05 00 80 45 9C 40 00', '14.056')).toBe(5000);
  });

  it('C7 3/0/2 DPT 16.000 "KNX is OK" in the largest standard frame (len 15)', () => {
    const hex = '29 00 BC D0 11 FF 18 02 0F 00 80 4B 4E 58 20 69 73 20 4F 4B 00 00 00 00 00';
    expect(ldata(hex).standardFrame).toBe(true);
    expect(value(hex, '16.000')).toBe('KNX is OK');
  });

  it('C8 knxd positive L_Data.con keeps source 0.0.0', () => {
    const c = ldata('2E 00 BC E0 00 00 0A 04 01 00 80');
    expect(c.messageCode).toBe(0x2e);
    expect(c.confirmError).toBe(false);
    expect(c.source).toBe(0);
    expect(formatGroupAddress(c.destination)).toBe('1/2/4');
    expect(groupPayload(c.tpdu)).toEqual({ shortData: 0 });
  });

  it('C9/C10 L_Busmon.ind with busmonitor status and relative timestamp additional info', () => {
    const c9 = cemi('2B 07 03 01 01 04 02 A1 CA BC 11 FC 0A 03 E1 00 81 C7');
    expect(c9.kind).toBe('busmon');
    if (c9.kind !== 'busmon') return;
    expect(c9.additionalInfo).toEqual([
      { type: 0x03, data: Uint8Array.of(0x01) },
      { type: 0x04, data: Uint8Array.of(0xa1, 0xca) },
    ]);
    // The raw TP1 frame ends with NOT(XOR of the previous octets).
    const raw = c9.raw;
    const xor = raw.subarray(0, -1).reduce((a, b) => a ^ b, 0);
    expect((~xor & 0xff).toString(16)).toBe('c7');
    const c10 = cemi('2B 07 03 01 02 04 02 D0 5E BC 11 FD 00 0A E3 00 80 0C 1A D0');
    expect(c10.kind === 'busmon' && toHex(c10.raw.subarray(8, 10))).toBe('0c1a');
  });

  it('C11 M_PropRead.req/.con of KNX_INDIVIDUAL_ADDRESS (IOT 11, PID 52) reads 1.2.3', () => {
    const req = cemi('FC 00 0B 01 34 10 01');
    expect(req).toMatchObject({
      kind: 'property',
      objectType: 11,
      objectInstance: 1,
      propertyId: 52,
      count: 1,
    });
    const con = cemi('FB 00 0B 01 34 10 01 12 03');
    expect(con.kind === 'property' && formatIndividualAddress((con.data[0]! << 8) | con.data[1]!)).toBe(
      '1.2.3',
    );
  });

  it('additional info in an L_Data.ind is skipped (knx.js crashed on it)', () => {
    // C1 with a 4-octet additional info block (relative timestamp) inserted.
    const c = ldata('29 04 04 02 12 34 BC D0 11 FC 0A 03 01 00 81');
    expect(c.additionalInfo).toEqual([{ type: 4, data: Uint8Array.of(0x12, 0x34) }]);
    expect(formatGroupAddress(c.destination)).toBe('1/2/3');
    expect(groupPayload(c.tpdu)).toEqual({ shortData: 1 });
  });

  it('a full knxd TUNNELLING_REQUEST wraps the cEMI after the connection header', () => {
    const f = decodeFrame(fromHex('06 10 04 20 00 15 04 01 00 00 29 00 bc d0 11 fc 0a 03 01 00 81'));
    expect(f.service === 'TUNNELLING_REQUEST' && f.cemi.kind).toBe('ldata');
  });
});

describe('DPT vectors (reference §2.2)', () => {
  const dpt9: [number | null, string][] = [
    [21.0, '0c1a'],
    [-30.0, '8a24'],
    [16.96, '06a0'],
    [0.01, '0001'],
    [-0.01, '87ff'],
    [20.48, '0c00'],
    [-20.48, '8000'],
    [-10.0, '8418'],
    [100.0, '1ce2'],
    [670433.28, '7ffe'],
    [-671088.64, 'f800'],
  ];
  it.each(dpt9)('DPT 9 %s <-> %s', (v, hex) => {
    expect(decodeDpt('9.001', { data: fromHex(hex) })).toBe(v);
    expect(toHex((encodeDpt('9.001', v) as { data: Uint8Array }).data)).toBe(hex);
  });

  it('DPT 9 7FFF is the invalid-data marker (null), not 670760.96', () => {
    expect(decodeDpt('9.001', { data: fromHex('7fff') })).toBeNull();
  });

  it('DPT 9 decoders accept non-normalised encodings: 0068 and 0834 both read 1.04', () => {
    expect(decodeDpt('9.001', { data: fromHex('0068') })).toBe(1.04);
    expect(decodeDpt('9.001', { data: fromHex('0834') })).toBe(1.04);
  });

  it('DPT 9 encodes near-zero negatives as 0000, never 8000 (-20.48)', () => {
    expect(toHex((encodeDpt('9.001', -0.004) as { data: Uint8Array }).data)).toBe('0000');
  });

  it('DPT 9: 500.00 is not representable and encodes to 2E1A (499.84); 230.0 encodes to 259E (ties to even)', () => {
    expect(toHex((encodeDpt('9.001', 500) as { data: Uint8Array }).data)).toBe('2e1a');
    expect(decodeDpt('9.001', { data: fromHex('2e1a') })).toBe(499.84);
    expect(decodeDpt('9.001', { data: fromHex('2e1b') })).toBe(500.16);
    expect(toHex((encodeDpt('9.001', 230) as { data: Uint8Array }).data)).toBe('259e');
    expect(decodeDpt('9.001', { data: fromHex('259e') })).toBe(230.08);
  });

  it('DPT 9 refuses values beyond its range with MF_KNX_DPT_RANGE', () => {
    expect(() => encodeDpt('9.001', 670760.96)).toThrow(
      expect.objectContaining({ code: 'MF_KNX_DPT_RANGE' }),
    );
    expect(() => encodeDpt('9.001', -671088.65)).toThrow(
      expect.objectContaining({ code: 'MF_KNX_DPT_RANGE' }),
    );
    expect(() => encodeDpt('9.001', Number.NaN)).toThrow(
      expect.objectContaining({ code: 'MF_KNX_DPT_RANGE' }),
    );
  });

  const fixed: [string, number, string][] = [
    ['14.027', 230.0, '43660000'],
    ['14.033', 50.0, '42480000'],
    ['13.010', -1, 'ffffffff'],
    ['13.013', 2147483647, '7fffffff'],
    ['12.001', 1000000, '000f4240'],
    ['7.001', 1234, '04d2'],
    ['5.010', 200, 'c8'],
  ];
  it.each(fixed)('DPT %s %s <-> %s', (dpt, v, hex) => {
    expect(decodeDpt(dpt, { data: fromHex(hex) })).toBe(v);
    expect(toHex((encodeDpt(dpt, v) as { data: Uint8Array }).data)).toBe(hex);
  });

  it('DPT 14 0.95 is 3F733333 and decodes as 0.949999988', () => {
    expect(toHex((encodeDpt('14.057', 0.95) as { data: Uint8Array }).data)).toBe('3f733333');
    expect(decodeDpt('14.057', { data: fromHex('3f733333') })).toBeCloseTo(0.949999988, 9);
  });

  it('DPT 5.001 encodes 50 % as 0x80 (reads back 50.196 %)', () => {
    expect(encodeDpt('5.001', 50)).toEqual({ data: Uint8Array.of(0x80) });
  });

  it('DPT 1 travels as short data and DPT 16.000 refuses non-ASCII', () => {
    expect(encodeDpt('1.001', true)).toEqual({ shortData: 1 });
    expect(encodeDpt('1.001', false)).toEqual({ shortData: 0 });
    expect(() => encodeDpt('16.000', 'Grüße')).toThrow(expect.objectContaining({ code: 'MF_KNX_DPT_RANGE' }));
    expect(decodeDpt('16.001', encodeDpt('16.001', 'Grüße'))).toBe('Grüße');
  });

  it('a payload of the wrong size is MF_KNX_DPT_LENGTH, an unknown DPT is MF_KNX_DPT_UNKNOWN', () => {
    expect(() => decodeDpt('13.010', { data: fromHex('0102') })).toThrow(
      expect.objectContaining({ code: 'MF_KNX_DPT_LENGTH' }),
    );
    expect(() => decodeDpt('9.001', { shortData: 1 })).toThrow(
      expect.objectContaining({ code: 'MF_KNX_DPT_LENGTH' }),
    );
    expect(() => decodeDpt('232.600', { data: fromHex('010203') })).toThrow(
      expect.objectContaining({ code: 'MF_KNX_DPT_UNKNOWN' }),
    );
  });
});

describe('addresses (reference §2.2)', () => {
  it.each([
    ['1/2/3', 0x0a03],
    ['31/7/255', 0xffff],
    ['9/0/8', 0x4808],
  ])('group %s is raw %s', (text, raw) => {
    expect(parseGroupAddress(text)).toBe(raw);
    expect(formatGroupAddress(raw)).toBe(text);
  });

  it('2-level 1/515 has the same raw value as 1/2/3', () => {
    expect(parseGroupAddress('1/515')).toBe(0x0a03);
    expect(formatGroupAddress(0x0a03, '2-level')).toBe('1/515');
  });

  it.each([
    ['1.1.250', 0x11fa],
    ['15.15.250', 0xfffa],
    ['10.15.251', 0xaffb],
  ])('individual %s is raw %s', (text, raw) => {
    expect(parseIndividualAddress(text)).toBe(raw);
    expect(formatIndividualAddress(raw)).toBe(text);
  });

  it('out-of-range or malformed addresses are MF_KNX_ADDRESS', () => {
    for (const bad of ['32/0/0', '1/8/0', '1/2/256', '1/2048', 'a/b/c', '1/2/3/4']) {
      expect(() => parseGroupAddress(bad)).toThrow(expect.objectContaining({ code: 'MF_KNX_ADDRESS' }));
    }
    expect(() => parseIndividualAddress('16.0.1')).toThrow(
      expect.objectContaining({ code: 'MF_KNX_ADDRESS' }),
    );
  });
});
