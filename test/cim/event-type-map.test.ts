import { describe, expect, it } from 'vitest';
import {
  controlKindFor,
  deviceEventKeys,
  endDeviceControlTypes,
  eventKeyFor,
  eventTypeFor,
  isEndDeviceEventTypeCode,
} from '../../adapters/cim/event-type-map.js';
import type { DeviceEventKey } from '../../adapters/field-data.js';

// Every DeviceEventKey of adapters/field-data.ts, spelled out so a new key without a mapping fails here.
const allKeys: DeviceEventKey[] = [
  'concentrator.unreachable',
  'concentrator.reachable',
  'modem.disconnected',
  'modem.reconnected',
  'modem.gpiChanged',
  'meter.relayOpened',
  'meter.relayClosed',
  'meter.powerReduced',
  'meter.statusWordAlarm',
  'meter.commissioned',
  'meter.decommissioned',
  'battery.overTemperature',
  'battery.underTemperature',
  'battery.overCurrent',
  'battery.overVoltage',
  'battery.underVoltage',
  'battery.forcedChargeRequest',
  'battery.fullChargeRequest',
  'battery.linkLost',
  'battery.alarm',
  'knx.gatewayUnreachable',
  'knx.gatewayReachable',
];

describe('EndDeviceEventType mapping', () => {
  it('maps every DeviceEventKey to a four-field code', () => {
    expect([...deviceEventKeys].sort()).toEqual([...allKeys].sort());
    for (const key of allKeys) expect(isEndDeviceEventTypeCode(eventTypeFor(key, 'raised'))).toBe(true);
  });

  it("uses the seed's code 3.21.87.85 for concentrator unreachable (SMMePlus §2.5.1.2.3)", () => {
    expect(eventTypeFor('concentrator.unreachable', 'raised')).toBe('3.21.87.85');
    expect(eventTypeFor('concentrator.unreachable', 'occurred')).toBe('3.21.87.85');
  });

  it('uses RCDSwitch codes for relay events and distinct codes for raised and cleared', () => {
    expect(eventTypeFor('meter.relayOpened', 'occurred')).toBe('3.31.0.68');
    expect(eventTypeFor('meter.relayClosed', 'occurred')).toBe('3.31.0.42');
    expect(eventTypeFor('battery.overVoltage', 'cleared')).not.toBe(
      eventTypeFor('battery.overVoltage', 'raised'),
    );
  });

  it("throws MF_UNKNOWN_QUANTITY for a 'cleared' phase of a one-off event", () => {
    expect(() => eventTypeFor('meter.commissioned', 'cleared')).toThrow(
      expect.objectContaining({ code: 'MF_UNKNOWN_QUANTITY' }),
    );
  });

  it('maps codes back to key and phase without ambiguity', () => {
    const seen = new Map<string, string>();
    for (const key of allKeys)
      for (const phase of ['raised', 'cleared'] as const) {
        let code: string;
        try {
          code = eventTypeFor(key, phase);
        } catch {
          continue;
        }
        const back = eventKeyFor(code);
        expect(back).toBeDefined();
        expect(eventTypeFor(back!.key, back!.phase)).toBe(code);
        seen.set(`${key}/${phase}`, code);
      }
    expect(seen.size).toBeGreaterThan(allKeys.length);
  });
});

describe('EndDeviceControlType codes', () => {
  it('emits x.31.0.18 connect, x.31.0.23 disconnect and supply-capacity-limit power reduction', () => {
    expect(endDeviceControlTypes.connect).toBe('3.31.0.18');
    expect(endDeviceControlTypes.disconnect).toBe('3.31.0.23');
    expect(endDeviceControlTypes.powerReductionOn).toBe('3.31.139.26');
  });

  it('accepts any type prefix (Connexo 0, cim4 2, seed 3) and refuses other codes with MF_CIM_CODE', () => {
    expect(controlKindFor('0.31.0.23')).toBe('disconnect');
    expect(controlKindFor('2.31.0.18')).toBe('connect');
    expect(controlKindFor('3.31.139.22')).toBe('powerReductionOff');
    expect(() => controlKindFor('3.0.211.23')).toThrow(expect.objectContaining({ code: 'MF_CIM_CODE' }));
    expect(() => controlKindFor('disconnect')).toThrow(/type.domain.subDomain.action/);
  });
});
