import type { StackStatus } from '../bms/stack.js';
import { Gtx2500Stack } from '../bms/stack.js';
import { BatteryCodecError } from '../errors.js';
import { allPacksAddress, batteryCid1, commands, decodeRequest } from '../rs485/commands.js';
import type { Rs485Frame } from '../rs485/frame.js';

/**
 * The simulated master's side of the Pylontech RS485 protocol: a request frame and the stack's
 * state in, a reply frame out (RTN 00 with INFO, or an error RTN). Pure.
 */

class InfoWriter {
  private readonly bytes: number[] = [];
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    const raw = Math.round(v) & 0xffff;
    this.bytes.push(raw >> 8, raw & 0xff);
    return this;
  }
  u24(v: number): this {
    const raw = Math.round(v) & 0xffffff;
    this.bytes.push(raw >> 16, (raw >> 8) & 0xff, raw & 0xff);
    return this;
  }
  ascii(text: string, size: number): this {
    for (let i = 0; i < size; i++) this.bytes.push(i < text.length ? text.charCodeAt(i) & 0x7f : 0x20);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const kelvinTenths = (c: number) => Math.round(c * 10 + 2731);

export const simulatedSerialPrefix = 'GTX2500SIM';

function packAnalog(w: InfoWriter, status: StackStatus, packIndex: number): void {
  const pack = status.packs[packIndex]!;
  const cellMv = (pack.voltageV / 16) * 1000;
  w.u8(16);
  for (let i = 0; i < 16; i++) w.u16(cellMv);
  w.u8(5);
  for (let i = 0; i < 5; i++) w.u16(kelvinTenths(pack.temperatureC));
  w.u16(pack.currentA * 10);
  w.u16(pack.voltageV * 1000);
  w.u16(pack.remainingAh * 1000);
  w.u8(2); // UD 2: packs ≤ 65 Ah
  w.u16(pack.capacityAh * 1000);
  w.u16(0);
}

function packAlarms(w: InfoWriter, status: StackStatus, packIndex: number): void {
  const pack = status.packs[packIndex]!;
  const p = pack.protections;
  const tempState =
    p.chargeOverTemperature || p.dischargeOverTemperature
      ? 2
      : p.chargeUnderTemperature || p.dischargeUnderTemperature
        ? 1
        : 0;
  w.u8(16);
  for (let i = 0; i < 16; i++) w.u8(0);
  w.u8(5);
  for (let i = 0; i < 5; i++) w.u8(tempState);
  w.u8(p.chargeOverCurrent ? 2 : 0);
  w.u8(p.chargeOverVoltage ? 2 : p.dischargeUnderVoltage ? 1 : 0);
  w.u8(p.dischargeOverCurrent ? 2 : 0);
  w.u8(
    (p.dischargeUnderVoltage ? 0x80 : 0) |
      (p.chargeOverTemperature ? 0x40 : 0) |
      (p.dischargeOverTemperature ? 0x20 : 0) |
      (p.dischargeOverCurrent ? 0x10 : 0) |
      (p.chargeOverCurrent ? 0x04 : 0) |
      (p.chargeOverVoltage ? 0x01 : 0),
  );
  w.u8(0x08 | (pack.dischargeAllowed ? 0x04 : 0) | (pack.chargeAllowed ? 0x02 : 0));
  w.u8(
    (pack.currentA > 0.1 ? 0x80 : 0) | (pack.currentA < -0.1 ? 0x40 : 0) | (pack.socPct >= 100 ? 0x08 : 0),
  );
  w.u8(0);
  w.u8(0);
}

function reply(request: Rs485Frame, rtn: number, info: Uint8Array = new Uint8Array(0)): Rs485Frame {
  return { ver: request.ver, adr: request.adr, cid1: batteryCid1, cid2: rtn, info };
}

export function answerRequest(request: Rs485Frame, status: StackStatus): Rs485Frame {
  let decoded: ReturnType<typeof decodeRequest>;
  try {
    decoded = decodeRequest(request);
  } catch (err) {
    if (err instanceof BatteryCodecError) return reply(request, 0x04);
    throw err;
  }
  if (request.ver !== 0x20) return reply(request, 0x01);
  const packIndex = request.adr - Gtx2500Stack.rs485AddressOf(1);
  const infoAdr = request.info[0];
  const wantsAll = infoAdr === allPacksAddress;
  const needsAdr =
    decoded.command !== commands.protocolVersion &&
    decoded.command !== commands.manufacturer &&
    decoded.command !== commands.systemParameters;
  if (packIndex < 0 || packIndex >= status.packCount) return reply(request, 0x90);
  if (needsAdr && infoAdr !== request.adr && !(wantsAll && packIndex === 0)) return reply(request, 0x05);
  const w = new InfoWriter();
  switch (decoded.command) {
    case commands.protocolVersion:
      return reply(request, 0);
    case commands.manufacturer:
      return reply(request, 0, w.ascii('GTX2500', 10).u8(1).u8(0).ascii('SOFAR AMASS', 20).done());
    case commands.serialNumber:
      return reply(
        request,
        0,
        w
          .u8(request.adr)
          .ascii(`${simulatedSerialPrefix}${String(packIndex + 1).padStart(6, '0')}`, 16)
          .done(),
      );
    case commands.analogValues:
      w.u8(0x11);
      if (wantsAll) {
        w.u8(status.packCount);
        for (let i = 0; i < status.packCount; i++) packAnalog(w, status, i);
      } else {
        w.u8(request.adr);
        packAnalog(w, status, packIndex);
      }
      return reply(request, 0, w.done());
    case commands.alarmInfo:
      w.u8(0x11).u8(request.adr);
      packAlarms(w, status, wantsAll ? 0 : packIndex);
      return reply(request, 0, w.done());
    case commands.chargeManagement:
      w.u8(request.adr)
        .u16(status.chargeVoltageLimitV * 1000)
        .u16(status.dischargeVoltageLimitV * 1000)
        .u16(status.chargeCurrentLimitA * 10)
        .u16(-status.dischargeCurrentLimitA * 10)
        .u8(
          (status.chargeEnable ? 0x80 : 0) |
            (status.dischargeEnable ? 0x40 : 0) |
            (status.forceChargeRequest ? 0x20 : 0) |
            (status.fullChargeRequest ? 0x08 : 0),
        );
      return reply(request, 0, w.done());
    case commands.systemParameters:
      w.u8(0x11)
        .u16(3650)
        .u16(3000)
        .u16(2850)
        .u16(kelvinTenths(55))
        .u16(kelvinTenths(-10))
        .u16(status.packCount * 250)
        .u16(56_000)
        .u16(48_000)
        .u16(45_600)
        .u16(kelvinTenths(60))
        .u16(kelvinTenths(-20))
        .u16(-status.packCount * 250);
      return reply(request, 0, w.done());
  }
}
