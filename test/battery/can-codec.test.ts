import { describe, expect, it } from 'vitest';
import { CanetDeframer, decodeCanet, encodeCanet } from '../../adapters/battery/can/canet.js';
import { decodeCanFrame } from '../../adapters/battery/can/decode.js';
import { CanVariantDetector, detectCanVariant } from '../../adapters/battery/can/detect.js';
import {
  encodeLimits,
  encodeManufacturer,
  encodeMeasurements,
  encodeProtectionAlarm,
  encodeRequests,
  encodeStateOfCharge,
} from '../../adapters/battery/can/encode.js';
import { type CanFrame, fromHex, parseCandump } from '../../adapters/battery/can/frame.js';
import { BatteryCodecError } from '../../adapters/battery/errors.js';

const decode = (text: string) => decodeCanFrame(parseCandump(text));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BatteryCodecError);
    return (err as BatteryCodecError).code;
  }
  return undefined;
}

describe('Pylon V1.2 golden vectors (real captures, reference battery.md §2.6)', () => {
  it('0x351 from OpenDTU-old decodes to CVL 53.2 V, CCL 370 A, DCL 370 A, DVL 46.0 V', () => {
    expect(decode('351#1402740E740ECC01')).toMatchObject({
      kind: 'limits',
      variant: 'pylon-v1.2',
      chargeVoltageLimitV: 53.2,
      chargeCurrentLimitA: 370,
      dischargeCurrentLimitA: 370,
      dischargeVoltageLimitV: 46,
    });
  });

  it('0x351 from 6×US5000 (setfirelabs) decodes to 53.2 V, 480 A, 480 A, 45.0 V', () => {
    expect(decode('351#1402C012C012C201')).toMatchObject({
      chargeVoltageLimitV: 53.2,
      chargeCurrentLimitA: 480,
      dischargeCurrentLimitA: 480,
      dischargeVoltageLimitV: 45,
    });
  });

  it('0x355 decodes to SOC 88 %, SOH 94 %', () => {
    expect(decode('355#58005E00')).toMatchObject({
      kind: 'stateOfCharge',
      stateOfChargePct: 88,
      stateOfHealthPct: 94,
    });
  });

  it('0x356 decodes to 49.86 V, −27.0 A (discharging), 36.3 °C', () => {
    expect(decode('356#7A13F2FE6B01')).toMatchObject({
      kind: 'measurements',
      voltageV: 49.86,
      currentA: -27,
      temperatureC: 36.3,
    });
  });

  it('0x359 decodes to no flags, 6 modules, "PN", and no unknown bits', () => {
    const d = decode('359#0000000006504E');
    expect(d).toMatchObject({ kind: 'protectionAlarm', moduleCount: 6, tag: 'PN', unknownBits: [] });
    if (d.kind !== 'protectionAlarm') throw new Error('kind');
    expect(Object.values(d.protection).some(Boolean)).toBe(false);
    expect(Object.values(d.alarm).some(Boolean)).toBe(false);
  });

  it('0x35C C000 decodes to charge and discharge enabled, no requests', () => {
    expect(decode('35C#C000')).toMatchObject({
      kind: 'requests',
      chargeEnable: true,
      dischargeEnable: true,
      forceChargeRequestI: false,
      forceChargeRequestII: false,
      fullChargeRequest: false,
      unknownBits: [],
    });
  });

  it('0x35E decodes to "PYLON" with the padding removed', () => {
    expect(decode('35E#50594C4F4E202020')).toMatchObject({ kind: 'manufacturer', name: 'PYLON' });
  });

  it('0x305 is an inverter heartbeat whatever it carries', () => {
    expect(decode('305#0000000000000000')).toMatchObject({ kind: 'inverterHeartbeat' });
    expect(decode('307#1234')).toMatchObject({ kind: 'inverterHeartbeat', rawHex: '1234' });
  });
});

describe('synthetic GTX2500 ×4 set (reference §2.6, not captured)', () => {
  it('decodes 56.0 V / 100 A / 100 A / 45.6 V, 53.12 V −12.3 A 24.5 °C, 4 modules', () => {
    expect(decode('351#3002E803E803C801')).toMatchObject({
      chargeVoltageLimitV: 56,
      chargeCurrentLimitA: 100,
      dischargeCurrentLimitA: 100,
      dischargeVoltageLimitV: 45.6,
    });
    expect(decode('355#41006400')).toMatchObject({ stateOfChargePct: 65, stateOfHealthPct: 100 });
    expect(decode('356#C01485FFF500')).toMatchObject({
      voltageV: 53.12,
      currentA: -12.3,
      temperatureC: 24.5,
    });
    expect(decode('359#0000000004504E')).toMatchObject({ moduleCount: 4 });
    expect(decode('35C#E000')).toMatchObject({ forceChargeRequestI: true, chargeEnable: true });
    expect(decode('35C#C800')).toMatchObject({ fullChargeRequest: true });
  });
});

describe('0x359 / 0x35C flag tables', () => {
  it('each protection and alarm bit maps to its named flag', () => {
    const cases: [string, string, string][] = [
      ['359#0200000001504E', 'protection', 'overVoltage'],
      ['359#0400000001504E', 'protection', 'underVoltage'],
      ['359#0800000001504E', 'protection', 'overTemperature'],
      ['359#1000000001504E', 'protection', 'underTemperature'],
      ['359#8000000001504E', 'protection', 'dischargeOverCurrent'],
      ['359#0001000001504E', 'protection', 'chargeOverCurrent'],
      ['359#0008000001504E', 'protection', 'systemError'],
      ['359#0080000001504E', 'protection', 'byte1Bit7Fault'],
      ['359#0000020001504E', 'alarm', 'highVoltage'],
      ['359#0000040001504E', 'alarm', 'lowVoltage'],
      ['359#0000080001504E', 'alarm', 'highTemperature'],
      ['359#0000100001504E', 'alarm', 'lowTemperature'],
      ['359#0000800001504E', 'alarm', 'dischargeHighCurrent'],
      ['359#0000000101504E', 'alarm', 'chargeHighCurrent'],
      ['359#0000000801504E', 'alarm', 'internalCommunicationFail'],
    ];
    for (const [frame, group, flag] of cases) {
      const d = decode(frame);
      if (d.kind !== 'protectionAlarm') throw new Error('kind');
      const flags = group === 'protection' ? d.protection : d.alarm;
      const set = Object.entries(flags)
        .filter(([, v]) => v)
        .map(([k]) => k);
      expect(set, frame).toEqual([flag]);
    }
  });

  it('reports bits outside the table instead of dropping them', () => {
    const d = decode('359#2140010001504E');
    expect(d).toMatchObject({
      unknownBits: [
        { byte: 0, mask: 0x20 },
        { byte: 0, mask: 0x01 },
        { byte: 1, mask: 0x40 },
        { byte: 2, mask: 0x01 },
      ],
    });
    expect(decode('35C#C701')).toMatchObject({
      unknownBits: [
        { byte: 0, mask: 4 },
        { byte: 0, mask: 2 },
        { byte: 0, mask: 1 },
        { byte: 1, mask: 1 },
      ],
    });
  });

  it('an unknown id is reported with its bytes, not dropped', () => {
    expect(decode('35B#0102')).toMatchObject({ kind: 'unknown', id: 0x35b, rawHex: '0102' });
  });
});

describe('SMA-style (V1.3) and Sofar-extended variants', () => {
  it('0x35F sample "LI" decodes type, version and capacity', () => {
    expect(decode('35F#4C4901033C02AA00')).toMatchObject({
      kind: 'batteryInfo',
      variant: 'pylon-v1.3',
      typeHex: '4C49',
      capacityAh: 0x023c,
    });
  });

  it('0x35A low bits of pairs are active alarms/warnings, high bits are not', () => {
    const d = decode('35A#4402000001000000');
    expect(d).toMatchObject({
      kind: 'smaAlarms',
      alarms: ['highVoltage', 'highTemperature'],
      warnings: ['general'],
    });
    const none = decode('35A#AAAAAAAAAAAAAAAA');
    expect(none).toMatchObject({ alarms: [], warnings: [] });
  });

  it('Sofar-extended ids carry the pack id and use 0.1 V and u8 SOC/SOH', () => {
    const m = decodeCanFrame({ id: 0x2356, extended: true, data: fromHex('1502 85FF F500 0000') });
    expect(m).toMatchObject({
      kind: 'measurements',
      variant: 'sofar-extended',
      packId: 2,
      voltageV: 53.3,
      currentA: -12.3,
    });
    const s = decodeCanFrame({ id: 0x1355, extended: true, data: fromHex('4100 6400 0000 0000') });
    expect(s).toMatchObject({
      kind: 'stateOfCharge',
      packId: 1,
      stateOfChargePct: 65,
      stateOfHealthPct: 100,
    });
    // Battery-Emulator's default 0x35E payload for the Sofar protocol is "AMASS".
    expect(decodeCanFrame({ id: 0x135e, extended: true, data: fromHex('414D415353000000') })).toMatchObject({
      name: 'AMASS',
    });
    expect(decodeCanFrame({ id: 0x130f, extended: true, data: fromHex('0003000000000000') })).toMatchObject({
      kind: 'enableFlags',
      chargeAllowed: true,
      dischargeAllowed: true,
    });
  });

  it('detects the variant from the ids seen', () => {
    expect(
      detectCanVariant([
        { id: 0x351, extended: false },
        { id: 0x359, extended: false },
      ]),
    ).toBe('pylon-v1.2');
    expect(
      detectCanVariant([
        { id: 0x351, extended: false },
        { id: 0x35a, extended: false },
      ]),
    ).toBe('pylon-v1.3');
    const d = new CanVariantDetector();
    for (const id of [0x1351, 0x2356, 0x3355]) d.observe({ id, extended: true });
    expect(d.variant()).toBe('sofar-extended');
    expect(d.sofarPackIds()).toEqual([1, 2, 3]);
    expect(detectCanVariant([{ id: 0x123, extended: false }])).toBeUndefined();
  });
});

describe('bad CAN input gives typed errors', () => {
  it('wrong DLC is MF_BATTERY_CAN_DLC and names the id', () => {
    expect(codeOf(() => decode('356#7A13F2'))).toBe('MF_BATTERY_CAN_DLC');
    expect(codeOf(() => decode('359#000000000650'))).toBe('MF_BATTERY_CAN_DLC');
    expect(codeOf(() => decodeCanFrame({ id: 0x1356, extended: true, data: fromHex('C014') }))).toBe(
      'MF_BATTERY_CAN_DLC',
    );
    expect(codeOf(() => decodeCanFrame({ id: 0x351, extended: false, data: new Uint8Array(9) }))).toBe(
      'MF_BATTERY_CAN_DLC',
    );
  });

  it('out-of-range values are MF_BATTERY_VALUE_RANGE', () => {
    expect(codeOf(() => decode('355#65005E00'))).toBe('MF_BATTERY_VALUE_RANGE'); // SOC 101 %
    expect(codeOf(() => decode('355#58006500'))).toBe('MF_BATTERY_VALUE_RANGE'); // SOH 101 %
    expect(codeOf(() => decode('356#7A13F2FEFF7F'))).toBe('MF_BATTERY_VALUE_RANGE'); // 3276.7 °C
    expect(codeOf(() => decode('351#1402F0FF740ECC01'))).toBe('MF_BATTERY_VALUE_RANGE'); // CCL −1.6 A
  });

  it('an 11-bit id above 0x7FF is MF_BATTERY_CAN_ID', () => {
    expect(codeOf(() => decodeCanFrame({ id: 0x800, extended: false, data: new Uint8Array(0) }))).toBe(
      'MF_BATTERY_CAN_ID',
    );
  });

  it('a sequence with a bad frame in the middle decodes the frames on either side', () => {
    const results = ['355#58005E00', '356#7A13F2', '356#7A13F2FE6B01'].map((t) => {
      try {
        return decode(t).kind;
      } catch (err) {
        return (err as BatteryCodecError).code;
      }
    });
    expect(results).toEqual(['stateOfCharge', 'MF_BATTERY_CAN_DLC', 'measurements']);
  });
});

describe('CANET 13-byte TCP framing', () => {
  it('encodes the reference example 351#1402740E740ECC01 as 08 00000351 1402740E740ECC01', () => {
    const bytes = encodeCanet(parseCandump('351#1402740E740ECC01'));
    expect(Buffer.from(bytes).toString('hex').toUpperCase()).toBe('08000003511402740E740ECC01');
    expect(decodeCanet(bytes)).toEqual(parseCandump('351#1402740E740ECC01'));
  });

  it('marks extended frames with bit 7 and keeps the DLC below 8', () => {
    const f: CanFrame = { id: 0x1355, extended: true, data: fromHex('41006400') };
    const bytes = encodeCanet(f);
    expect(bytes[0]).toBe(0x84);
    expect(decodeCanet(bytes)).toEqual(f);
  });

  it('resynchronises after garbage, reports it once, and decodes the next good frame', () => {
    const deframer = new CanetDeframer();
    const good1 = encodeCanet(parseCandump('355#58005E00'));
    const good2 = encodeCanet(parseCandump('356#7A13F2FE6B01'));
    const garbage = Uint8Array.of(0xff, 0x3f, 0x1f, 0xee);
    const stream = Buffer.concat([good1, garbage, good2]);
    // Delivered in awkward chunk sizes, as TCP may.
    const out = [
      ...deframer.push(stream.subarray(0, 5)),
      ...deframer.push(stream.subarray(5, 20)),
      ...deframer.push(stream.subarray(20)),
    ];
    expect(out.map((r) => (r.ok ? r.message.id : r.error.code))).toEqual([
      0x355,
      'MF_BATTERY_CAN_FRAME',
      0x356,
    ]);
  });

  it('a CANET frame with a wrong DLC for its id is framed fine and rejected by the decoder', () => {
    const deframer = new CanetDeframer();
    const stream = Buffer.concat([
      encodeCanet({ id: 0x356, extended: false, data: fromHex('7A13F2') }),
      encodeCanet(parseCandump('356#7A13F2FE6B01')),
    ]);
    const decoded = deframer.push(stream).map((r) => {
      if (!r.ok) return r.error.code;
      try {
        return decodeCanFrame(r.message).kind;
      } catch (err) {
        return (err as BatteryCodecError).code;
      }
    });
    expect(decoded).toEqual(['MF_BATTERY_CAN_DLC', 'measurements']);
  });
});

describe('encoders round-trip through the decoder (checked against the captures above first)', () => {
  it('encodeLimits reproduces the captured 0x351 bytes', () => {
    const f = encodeLimits({
      chargeVoltageLimitV: 53.2,
      chargeCurrentLimitA: 370,
      dischargeCurrentLimitA: 370,
      dischargeVoltageLimitV: 46,
    });
    expect(Buffer.from(f.data).toString('hex').toUpperCase()).toBe('1402740E740ECC01');
  });

  it('the other encoders reproduce the captured 0x355, 0x356, 0x359, 0x35C, 0x35E bytes', () => {
    const hex = (f: CanFrame) => Buffer.from(f.data).toString('hex').toUpperCase();
    expect(hex(encodeStateOfCharge({ stateOfChargePct: 88, stateOfHealthPct: 94 }))).toBe('58005E00');
    expect(hex(encodeMeasurements({ voltageV: 49.86, currentA: -27, temperatureC: 36.3 }))).toBe(
      '7A13F2FE6B01',
    );
    const p = decode('359#0000000006504E');
    if (p.kind !== 'protectionAlarm') throw new Error('kind');
    expect(hex(encodeProtectionAlarm(p.protection, p.alarm, 6))).toBe('0000000006504E');
    expect(
      hex(
        encodeRequests({
          chargeEnable: true,
          dischargeEnable: true,
          forceChargeRequestI: false,
          forceChargeRequestII: false,
          fullChargeRequest: false,
        }),
      ),
    ).toBe('C000');
    expect(hex(encodeManufacturer('PYLON'))).toBe('50594C4F4E202020');
  });
});
