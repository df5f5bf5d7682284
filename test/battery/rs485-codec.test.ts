import { describe, expect, it } from 'vitest';
import { type BatteryCodecError, BatteryReturnCodeError } from '../../adapters/battery/errors.js';
import { buildRequest, commands, decodeReply, decodeRequest } from '../../adapters/battery/rs485/commands.js';
import {
  decodeRs485Frame,
  encodeRs485Frame,
  frameChecksum,
  lengthChecksum,
  lengthField,
} from '../../adapters/battery/rs485/frame.js';
import { Rs485Deframer } from '../../adapters/battery/rs485/stream.js';

// Real frames, reference battery.md §3.3 (sources named there).
const captures = {
  request42Pack2: '~20024642E00202FD33\r',
  request93Pack2: '~20024693E00202FD2D\r',
  reply92Us: '~20024600B01402D002AFC800C8FE0CC0F915\r',
  reply42Us:
    '~20024600F07A00020F0D170D140D150D150D180D170D140D150D150D180D170D140D150D150D18050C0B0BEF0BF00BED0C0B00C9C447FFFF04FFFF00120172B90186A0E2D1\r',
  reply44Us: '~20024600A04200020F000000000000000000000000000000050000000000000000000E80000000F101\r',
  reply92Up2500: '~20024600B014026EF05AA0022BFDD5C0F915\r',
  reply42AllUs2000x3:
    '~20024600914211030F0CE70CE80CE60CE70CE80CE80CE80CE60CE50CE60CE80CE70CEA0CE50CE6050B910B870B870B870B87FFE6C18982DC02C350001F0F0CE20CE60CE60CE10CE50CE70CE60CE30CE20CE50CE30CE90CE70CE90CE9050B910B870B870B870B87FFE7C17082DC02C350001F0F0CE20CE50CE50CE20CE30CE30CE40CE50CE60CE60CE30CE40CE40CE60CE6050B910B7D0B7D0B7D0B7DFFE5C16082DC02C350001FB476\r',
  reply42AllUs3000x4:
    '~2002460061DC11040F0CFD0CFC0CFC0CFB0CFC0CFB0CFD0CFC0CFC0CFB0CFA0CFD0CFB0CFE0CFA050BE10BCD0BCD0BCD0BCD0000C2C1FFFF04FFFF002F00EFEC0121100F0CEB0CEB0CEB0CEA0CEA0CEC0CEB0CEB0CE90CE80CE60CE90CE90CEA0CE8050BE10BCD0BCD0BCD0BCDFFBCC1B2FFFF04FFFF002800F2D00121100F0CE80CE90CEA0CEA0CEA0CE90CEA0CEA0CEB0CEC0CEB0CEB0CEB0CEA0CEA050BE10BC30BC30BC30BC3FFB7C1B8FFFF04FFFF007100E7400121100F0CE90CEC0CEB0CEA0CEA0CEB0CE90CE80CEA0CEA0CEA0CEB0CEC0CEA0CEA050BD70BC30BC30BC30BB9FFBBC1B9FFFF04FFFF006B00ED080121108D63\r',
  reply42AllMixed:
    '~2002460010F011020F0CCD0CCE0CCC0CCE0CCB0CCC0CCD0CCC0CCD0CCB0CCC0CCD0CCD0CCE0CCC050BE10BCD0BCD0BD70BCDFFC3BFFDFFFF04FFFF0234007F300121100F0CCA0CCA0CCB0CCC0CCA0CCC0CCB0CCB0CCB0CCB0CCB0CCA0CCC0CCC0CCB050BEB0BCD0BCD0BCD0BC3FFD1BFE5FFFF04FFFF0292005FB400C350C4A7\r',
  reply42Up2500Single:
    '~20024600D05E1002080D020D020D020D030D000D010D010D03050B7D0B690B690B690B73FFFA680EFFFF04FFFF00000174E401B198E906\r',
  seplos42: '~20004642E00201FD36\r',
  seplos44: '~20004644E00201FD34\r',
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as BatteryCodecError).code;
  }
  return undefined;
}

describe('checksums (Pylontech RS485 spec V3.3 and the reference errata)', () => {
  it('LENID 18 gives LENGTH D012 and LENID 0 gives 0000 (spec examples)', () => {
    expect(lengthField(18)).toBe('D012');
    expect(lengthField(0)).toBe('0000');
  });

  it('LCHKSUM is masked to 4 bits when the nibble sum is a multiple of 16 (0x0F1, 0x088)', () => {
    // The bug in python-pylontech / Seplos / Battery-Emulator produced 16 and a 5-char LENGTH here.
    expect(lengthChecksum(0x0f1)).toBe(0);
    expect(lengthField(0x0f1)).toBe('00F1');
    expect(lengthField(0x088)).toBe('0088');
    expect(lengthField(0x088)).toHaveLength(4);
  });

  it('the spec\'s known-wrong CHKSUM example ("…ABCEFE" printed with FC72) is rejected; the intended "…ABCDEF" gives FC72', () => {
    expect(frameChecksum('1203400456ABCDEF')).toBe(0xfc72);
    expect(frameChecksum('1203400456ABCEFE')).not.toBe(0xfc72);
    expect(frameChecksum('1203400456ABCEFE')).toBe(0xfc71);
  });
});

describe('every real frame in the reference verifies and decodes', () => {
  it('all captured frames pass LCHKSUM, LENID and CHKSUM', () => {
    for (const [name, text] of Object.entries(captures)) {
      expect(() => decodeRs485Frame(text), name).not.toThrow();
      // Re-encoding reproduces the capture byte for byte.
      expect(encodeRs485Frame(decodeRs485Frame(text)), name).toBe(text);
    }
  });

  it('requests: 0x42 and 0x93 to pack 2, Seplos 0x42/0x44 at ADR 0', () => {
    expect(decodeRequest(decodeRs485Frame(captures.request42Pack2))).toEqual({
      command: 0x42,
      ver: 0x20,
      adr: 2,
      infoHex: '02',
    });
    expect(decodeRequest(decodeRs485Frame(captures.request93Pack2))).toMatchObject({ command: 0x93, adr: 2 });
    expect(decodeRequest(decodeRs485Frame(captures.seplos42))).toMatchObject({
      command: 0x42,
      adr: 0,
      infoHex: '01',
    });
    expect(decodeRequest(decodeRs485Frame(captures.seplos44))).toMatchObject({ command: 0x44 });
  });

  it('buildRequest reproduces the reference request frames', () => {
    expect(buildRequest(commands.analogValues, 2)).toBe(captures.request42Pack2);
    expect(buildRequest(commands.serialNumber, 2)).toBe(captures.request93Pack2);
    expect(buildRequest(commands.protocolVersion, 2)).toBe('~2002464F0000FD98\r');
    expect(buildRequest(commands.manufacturer, 2)).toBe('~200246510000FDAC\r');
    expect(buildRequest(commands.analogValues, 2, { allPacks: true })).toBe('~20024642E002FFFD09\r');
    expect(buildRequest(commands.alarmInfo, 2)).toBe('~20024644E00202FD31\r');
    expect(buildRequest(commands.systemParameters, 2)).toBe('~200246470000FDA7\r');
    expect(buildRequest(commands.chargeManagement, 2)).toBe('~20024692E00202FD2E\r');
    expect(buildRequest(commands.analogValues, 3)).toBe('~20034642E00203FD31\r');
  });

  it('#3 0x92 reply: CVL 53.25 V, DVL 45.0 V, CCL 20.0 A, DCL −50.0 A, status C0', () => {
    const r = decodeReply(decodeRs485Frame(captures.reply92Us), commands.chargeManagement);
    expect(r.value).toEqual({
      address: 2,
      chargeVoltageLimitV: 53.25,
      dischargeVoltageLimitV: 45,
      chargeCurrentLimitA: 20,
      dischargeCurrentLimitA: -50,
      chargeEnable: true,
      dischargeEnable: true,
      chargeImmediately1: false,
      chargeImmediately2: false,
      fullChargeRequest: false,
      unknownStatusBits: 0,
    });
  });

  it('#6 UP2500 0x92 reply: 28.4 V, 23.2 V, 55.5 A, −55.5 A (python-pylontech test values)', () => {
    const r = decodeReply(decodeRs485Frame(captures.reply92Up2500), commands.chargeManagement);
    expect(r.value).toMatchObject({
      chargeVoltageLimitV: 28.4,
      dischargeVoltageLimitV: 23.2,
      chargeCurrentLimitA: 55.5,
      dischargeCurrentLimitA: -55.5,
      chargeEnable: true,
      dischargeEnable: true,
      fullChargeRequest: false,
    });
  });

  it('#4 0x42 reply: 15 cells 3.348–3.352 V, BMS 35.2 °C, +20.1 A, 50.247 V, 94.905 of 100 Ah, 18 cycles', () => {
    const r = decodeReply(decodeRs485Frame(captures.reply42Us), commands.analogValues, { allPacks: false });
    if (r.command !== 0x42) throw new Error('command');
    expect(r.value.address).toBe(2);
    const p = r.value.packs[0]!;
    expect(p.cellVoltagesV).toHaveLength(15);
    expect(Math.min(...p.cellVoltagesV)).toBe(3.348);
    expect(Math.max(...p.cellVoltagesV)).toBe(3.352);
    expect(p.temperaturesC[0]).toBe(35.2);
    expect(p).toMatchObject({
      currentA: 20.1,
      voltageV: 50.247,
      userDefinedCount: 4,
      remainingCapacityAh: 94.905,
      totalCapacityAh: 100,
      cycleCount: 18,
    });
    expect(r.value.trailingHex).toBe('');
  });

  it('#5 0x44 reply: all states OK, Status2 0E (pack power, both MOSFETs), Status3 80 (charging), one trailing byte', () => {
    const r = decodeReply(decodeRs485Frame(captures.reply44Us), commands.alarmInfo);
    if (r.command !== 0x44) throw new Error('command');
    const v = r.value;
    expect(v.cellStates).toHaveLength(15);
    expect(
      new Set([
        ...v.cellStates,
        ...v.temperatureStates,
        v.chargeCurrentState,
        v.moduleVoltageState,
        v.dischargeCurrentState,
      ]),
    ).toEqual(new Set(['ok']));
    expect(Object.values(v.status1).some(Boolean)).toBe(false);
    expect(v.status2).toEqual({ usingPackPower: true, dischargeMosfetOn: true, chargeMosfetOn: true });
    expect(v.status3).toMatchObject({ effectiveChargeCurrent: true, effectiveDischargeCurrent: false });
    expect(v.trailingHex).toBe('00');
    expect(v.unknownBits).toEqual([]);
  });

  it('#7 0x42 FF reply, 3×US2000: module 1 is −2.6 A, 49.545 V, 33.5 of 50 Ah, 31 cycles, BMS 23 °C, cells 22 °C', () => {
    const r = decodeReply(decodeRs485Frame(captures.reply42AllUs2000x3), commands.analogValues, {
      allPacks: true,
    });
    if (r.command !== 0x42) throw new Error('command');
    expect(r.value.packs).toHaveLength(3);
    const [m0, m1, m2] = r.value.packs;
    expect(m0).toMatchObject({
      currentA: -2.6,
      voltageV: 49.545,
      remainingCapacityAh: 33.5,
      totalCapacityAh: 50,
      cycleCount: 31,
      userDefinedCount: 2,
    });
    expect(m0!.temperaturesC).toEqual([23, 22, 22, 22, 22]);
    expect(m0!.cellVoltagesV.slice(0, 3)).toEqual([3.303, 3.304, 3.302]);
    expect(m1).toMatchObject({ currentA: -2.5, voltageV: 49.52 });
    expect(m2).toMatchObject({ currentA: -2.7, voltageV: 49.504 });
    expect(m2!.temperaturesC.slice(1)).toEqual([21, 21, 21, 21]);
  });

  it('#7 0x42 FF reply, 4×US3000: capacities from the 24-bit fields (61.42/62.16/59.2/60.68 of 74 Ah)', () => {
    const r = decodeReply(decodeRs485Frame(captures.reply42AllUs3000x4), commands.analogValues);
    if (r.command !== 0x42) throw new Error('command');
    expect(r.value.packs.map((p) => p.remainingCapacityAh)).toEqual([61.42, 62.16, 59.2, 60.68]);
    expect(r.value.packs.map((p) => p.totalCapacityAh)).toEqual([74, 74, 74, 74]);
    expect(r.value.packs.map((p) => p.currentA)).toEqual([0, -6.8, -7.3, -6.9]);
    expect(r.value.packs.map((p) => p.cycleCount)).toEqual([47, 40, 113, 107]);
  });

  it('#7 0x42 FF reply, mixed US3000+US2000: UD 4 and UD 2 blocks in one reply', () => {
    const r = decodeReply(decodeRs485Frame(captures.reply42AllMixed), commands.analogValues);
    if (r.command !== 0x42) throw new Error('command');
    expect(
      r.value.packs.map((p) => [
        p.voltageV,
        p.currentA,
        p.remainingCapacityAh,
        p.totalCapacityAh,
        p.cycleCount,
      ]),
    ).toEqual([
      [49.149, -6.1, 32.56, 74, 564],
      [49.125, -4.7, 24.5, 50, 658],
    ]);
  });

  it('UP2500 single-pack 0x42: 8 cells, −0.6 A, 26.638 V, 95.46 of 111 Ah', () => {
    const r = decodeReply(decodeRs485Frame(captures.reply42Up2500Single), commands.analogValues, {
      allPacks: false,
    });
    if (r.command !== 0x42) throw new Error('command');
    expect(r.value.address).toBe(2);
    expect(r.value.packs[0]).toMatchObject({
      currentA: -0.6,
      voltageV: 26.638,
      remainingCapacityAh: 95.46,
      totalCapacityAh: 111,
      cycleCount: 0,
    });
    expect(r.value.packs[0]!.temperaturesC).toEqual([21, 19, 19, 19, 20]);
  });
});

describe('bad RS485 input gives typed errors', () => {
  it('wrong checksum, wrong LCHKSUM, LENID mismatch, truncation, non-hex, missing SOI each have their code', () => {
    const good = captures.reply92Us;
    expect(codeOf(() => decodeRs485Frame(good.replace('F915', 'F916')))).toBe('MF_BATTERY_RS485_CHKSUM');
    expect(codeOf(() => decodeRs485Frame(good.replace('B014', 'A014')))).toBe('MF_BATTERY_RS485_LCHKSUM');
    // LENID 0x016 (LCHKSUM 9) claims more INFO than present: truncated.
    expect(codeOf(() => decodeRs485Frame(good.replace('B014', '9016')))).toBe('MF_BATTERY_RS485_TRUNCATED');
    // LENID 0x012 (LCHKSUM D) claims less INFO than present: wrong length.
    expect(codeOf(() => decodeRs485Frame(good.replace('B014', 'D012')))).toBe('MF_BATTERY_RS485_LENGTH');
    expect(codeOf(() => decodeRs485Frame('~2002460'))).toBe('MF_BATTERY_RS485_TRUNCATED');
    expect(codeOf(() => decodeRs485Frame(good.replace('D002', 'D0G2')))).toBe('MF_BATTERY_RS485_HEX');
    expect(codeOf(() => decodeRs485Frame(good.slice(1)))).toBe('MF_BATTERY_RS485_SOI');
    expect(codeOf(() => decodeRs485Frame(`~${'0'.repeat(5000)}\r`))).toBe('MF_BATTERY_RS485_TOO_LONG');
  });

  it('an unknown CID2 is MF_BATTERY_RS485_UNKNOWN_CID, for a request and as the command of a reply', () => {
    const unknownRequest = encodeRs485Frame({
      ver: 0x20,
      adr: 2,
      cid1: 0x46,
      cid2: 0x99,
      info: Uint8Array.of(2),
    });
    expect(codeOf(() => decodeRequest(decodeRs485Frame(unknownRequest)))).toBe(
      'MF_BATTERY_RS485_UNKNOWN_CID',
    );
    expect(codeOf(() => decodeReply(decodeRs485Frame(captures.reply92Us), 0x61))).toBe(
      'MF_BATTERY_RS485_UNKNOWN_CID',
    );
  });

  it('a non-zero RTN is a typed BatteryReturnCodeError with a stable code', () => {
    for (const [rtn, code] of [
      [0x02, 'MF_BATTERY_RTN_CHKSUM'],
      [0x04, 'MF_BATTERY_RTN_CID2'],
      [0x90, 'MF_BATTERY_RTN_ADR'],
      [0x91, 'MF_BATTERY_RTN_INTERNAL_COMM'],
    ] as const) {
      const frame = decodeRs485Frame(
        encodeRs485Frame({ ver: 0x20, adr: 2, cid1: 0x46, cid2: rtn, info: new Uint8Array(0) }),
      );
      let caught: unknown;
      try {
        decodeReply(frame, commands.analogValues);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(BatteryReturnCodeError);
      expect((caught as BatteryReturnCodeError).code).toBe(code);
    }
  });

  it('an INFO too short for its command is MF_BATTERY_RS485_INFO; an impossible cell count is out of range', () => {
    const short = decodeRs485Frame(
      encodeRs485Frame({ ver: 0x20, adr: 2, cid1: 0x46, cid2: 0, info: Uint8Array.of(2, 0xd0) }),
    );
    expect(codeOf(() => decodeReply(short, commands.chargeManagement))).toBe('MF_BATTERY_RS485_INFO');
    const crazy = decodeRs485Frame(
      encodeRs485Frame({ ver: 0x20, adr: 2, cid1: 0x46, cid2: 0, info: Uint8Array.of(0, 2, 200) }),
    );
    expect(codeOf(() => decodeReply(crazy, commands.analogValues, { allPacks: false }))).toBe(
      'MF_BATTERY_VALUE_RANGE',
    );
  });
});

describe('RS485 stream resynchronisation', () => {
  it('after noise, a bad checksum and a truncated frame, the next good frames decode', () => {
    const deframer = new Rs485Deframer();
    const stream =
      'xx\u0000' + // line noise
      captures.reply92Us.replace('F915', 'F916') + // bad checksum
      '~20024600B014' + // truncated: a new ~ arrives before CR
      captures.reply44Us +
      captures.reply92Up2500;
    const results: string[] = [];
    // Byte-by-byte delivery: the worst case for a deframer.
    for (const ch of Buffer.from(stream, 'latin1')) {
      for (const r of deframer.push(Uint8Array.of(ch)))
        results.push(r.ok ? `ok:${r.message.info.length}` : r.error.code);
    }
    expect(results).toEqual([
      'MF_BATTERY_RS485_SOI',
      'MF_BATTERY_RS485_CHKSUM',
      'MF_BATTERY_RS485_TRUNCATED',
      'ok:33',
      'ok:10',
    ]);
  });

  it('an endless frame without CR is dropped at the size bound and the stream recovers', () => {
    const deframer = new Rs485Deframer();
    const out = [...deframer.push(`~${'0'.repeat(5000)}`), ...deframer.push(`\r${captures.reply92Us}`)];
    expect(out.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['MF_BATTERY_RS485_TOO_LONG', 'ok']);
  });
});
