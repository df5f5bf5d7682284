import type { StackStatus } from '../bms/stack.js';
import {
  encodeLimits,
  encodeManufacturer,
  encodeMeasurements,
  encodeProtectionAlarm,
  encodeRequests,
  encodeStateOfCharge,
} from '../can/encode.js';
import type { CanFrame } from '../can/frame.js';

/** What the simulated master broadcasts each cycle, in one of the variants the decoder accepts. */
export type SimulatedVariant = 'pylon-v1.2' | 'sofar-extended';

export const simulatedManufacturer = 'AMASS';

export function pylonFramesOf(s: StackStatus): CanFrame[] {
  const p = s.protections;
  return [
    encodeLimits(s),
    encodeStateOfCharge({ stateOfChargePct: Math.round(s.socPct), stateOfHealthPct: Math.round(s.sohPct) }),
    encodeMeasurements(s),
    encodeProtectionAlarm(
      {
        overVoltage: p.chargeOverVoltage,
        underVoltage: p.dischargeUnderVoltage,
        overTemperature: p.chargeOverTemperature || p.dischargeOverTemperature,
        underTemperature: p.chargeUnderTemperature || p.dischargeUnderTemperature,
        dischargeOverCurrent: p.dischargeOverCurrent,
        chargeOverCurrent: p.chargeOverCurrent,
        systemError: s.fault,
        byte1Bit7Fault: false,
      },
      {
        highVoltage: false,
        lowVoltage: false,
        highTemperature: false,
        lowTemperature: false,
        dischargeHighCurrent: false,
        chargeHighCurrent: false,
        internalCommunicationFail: false,
        byte3Bit7Alarm: false,
      },
      s.packCount,
    ),
    encodeRequests({
      chargeEnable: s.chargeEnable,
      dischargeEnable: s.dischargeEnable,
      forceChargeRequestI: s.forceChargeRequest,
      forceChargeRequestII: false,
      fullChargeRequest: s.fullChargeRequest,
    }),
    encodeManufacturer(simulatedManufacturer),
  ];
}

function ext(frame: CanFrame, packId: number): CanFrame {
  return { id: frame.id + (packId << 12), extended: true, data: frame.data };
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8);
  out.set(data.subarray(0, 8));
  return out;
}

/**
 * Sofar-extended: per pack, 29-bit ids `base + (packId << 12)`, DLC 8, SOC/SOH as u8 and the
 * voltage in 0.1 V (reference §2.4). Limits are the stack's, as the master computes them.
 */
export function sofarFramesOf(s: StackStatus): CanFrame[] {
  const out: CanFrame[] = [];
  for (const pack of s.packs) {
    const id = pack.packId ?? 1;
    const limits = encodeLimits(s);
    const soc = padded(Uint8Array.of(Math.round(pack.socPct), 0, Math.round(pack.sohPct), 0));
    const m = encodeMeasurements({ voltageV: 0, currentA: pack.currentA, temperatureC: pack.temperatureC });
    const voltageRaw = Math.round(pack.voltageV * 10);
    m.data[0] = voltageRaw & 0xff;
    m.data[1] = (voltageRaw >> 8) & 0xff;
    const config = padded(Uint8Array.of(s.packCount, 1, 1, 16));
    const name = padded(new TextEncoder().encode(simulatedManufacturer));
    const enable = padded(Uint8Array.of(0, (pack.dischargeAllowed ? 1 : 0) | (pack.chargeAllowed ? 2 : 0)));
    out.push(
      ext(limits, id),
      ext({ id: 0x355, extended: true, data: soc }, id),
      ext({ id: 0x356, extended: true, data: padded(m.data) }, id),
      ext({ id: 0x359, extended: true, data: config }, id),
      ext({ id: 0x35e, extended: true, data: name }, id),
      ext({ id: 0x30f, extended: true, data: enable }, id),
    );
  }
  return out;
}
