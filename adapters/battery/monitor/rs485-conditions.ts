import type { AlarmReply } from '../rs485/analog.js';
import type { ChargeManagement } from '../rs485/commands.js';
import type { Condition } from './conditions.js';

/**
 * The RS485 counterpart of conditionsOf: 0x44 alarm replies and the 0x92 status byte to the
 * same battery.* conditions the CAN path produces, so the head-end sees one vocabulary whichever
 * bus the site uses. Pure.
 */
export function conditionsOfAlarmReply(reply: AlarmReply, packId?: number): Condition[] {
  const out: Condition[] = [];
  const s1 = reply.status1;
  const protection = (key: Condition['key'], details: Record<string, string> = {}) =>
    out.push({ key, details: { kind: 'protection', ...details } });
  if (s1.chargeOverTemperature) protection('battery.overTemperature', { direction: 'charge' });
  if (s1.dischargeOverTemperature) protection('battery.overTemperature', { direction: 'discharge' });
  if (s1.chargeOverCurrent) protection('battery.overCurrent', { direction: 'charge' });
  if (s1.dischargeOverCurrent) protection('battery.overCurrent', { direction: 'discharge' });
  if (s1.moduleOverVoltage) protection('battery.overVoltage');
  if (s1.moduleUnderVoltage) protection('battery.underVoltage');
  if (s1.cellUnderVoltage) protection('battery.underVoltage', { scope: 'cell' });
  // Limit states outside "ok" are alarms (warnings before protection), one per measured group.
  const groups: [string, readonly string[]][] = [
    ['cellVoltage', reply.cellStates],
    ['temperature', reply.temperatureStates],
    ['chargeCurrent', [reply.chargeCurrentState]],
    ['moduleVoltage', [reply.moduleVoltageState]],
    ['dischargeCurrent', [reply.dischargeCurrentState]],
  ];
  for (const [group, states] of groups) {
    for (const state of new Set(states)) {
      if (state !== 'ok')
        out.push({ key: 'battery.alarm', details: { kind: 'alarm', flag: `${group}:${state}` } });
    }
  }
  if (reply.cellsWithError.length > 0) {
    out.push({
      key: 'battery.alarm',
      details: { kind: 'alarm', flag: 'cellError', cells: reply.cellsWithError.join(' ') },
    });
  }
  for (const bits of reply.unknownBits)
    out.push({ key: 'battery.alarm', details: { flag: 'unknownBit', frame: '0x44', bits } });
  if (packId !== undefined) for (const c of out) c.details.packId = String(packId);
  return out;
}

export function conditionsOfManagement(m: ChargeManagement): Condition[] {
  const out: Condition[] = [];
  if (m.chargeImmediately1) out.push({ key: 'battery.forcedChargeRequest', details: { level: 'I' } });
  if (m.chargeImmediately2) out.push({ key: 'battery.forcedChargeRequest', details: { level: 'II' } });
  if (m.fullChargeRequest) out.push({ key: 'battery.fullChargeRequest', details: {} });
  if (m.unknownStatusBits) {
    out.push({
      key: 'battery.alarm',
      details: { flag: 'unknownBit', frame: '0x92', mask: `0x${m.unknownStatusBits.toString(16)}` },
    });
  }
  return out;
}
