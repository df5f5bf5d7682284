import type { DeviceEvent, DeviceEventKey } from '../field-data.js';
import { CimCodeError, UnknownQuantityError } from './errors.js';

/**
 * THE mapping from internal device events to IEC 61968-9 EndDeviceEventType codes
 * (`type.domain.subDomain.eventOrAction`), and the EndDeviceControlType codes meterfabric
 * accepts. Values are the IEC 61968-9 Annex E enumerations as listed in
 * ../shared/reference/ami-cim.md (b) (from the Connexo cbo enums EndDeviceType,
 * EndDeviceDomain, EndDeviceSubDomain, EndDeviceEventorAction):
 *   type      2 DERDevice (battery packs), 3 ElectricMeter, 5 Gateway (KNX), 26 ComDevice (modem)
 *   domain    1 Communication, 2 Battery, 6 Installation, 19 Modem, 21 Metrology, 26 Power,
 *             31 RCDSwitch, 35 Temperature
 *   subDomain 0 n/a, 6 Current, 18 Calibration, 22 Charge, 38 Voltage, 87 Readings,
 *             139 SupplyCapacityLimit
 *   action    4 Activated, 19 Deactivated, 24 Changed, 28 Cleared, 42 Connected,
 *             49 Re-established, 66 Disabled, 68 Disconnected, 73 MaxLimitReachedCleared,
 *             74 OutofRangeCleared, 76 Enabled, 79 Error, 85 Failed, 93 MaxLimitReached,
 *             105 Installed, 150 MinLimitReached, 212 Removed, 216 Restored
 * "Concentrator unreachable" is the seed's own code 3.21.87.85 (ElectricMeter.Metrology.
 * Readings.Failed, reported per meter behind the concentrator; SMMePlus §2.5.1.2.3).
 */
export type EventPhase = DeviceEvent['phase'];
export type EndDeviceEventTypeCode = string;

type Entry = { raised: EndDeviceEventTypeCode; cleared?: EndDeviceEventTypeCode; words: string };

const table: Record<DeviceEventKey, Entry> = {
  'concentrator.unreachable': {
    raised: '3.21.87.85',
    cleared: '3.21.87.216',
    words: 'concentrator unreachable: readings failed',
  },
  'concentrator.reachable': {
    raised: '3.21.87.216',
    words: 'concentrator reachable again: readings restored',
  },
  'modem.disconnected': { raised: '26.19.0.68', cleared: '26.19.0.49', words: 'modem disconnected' },
  'modem.reconnected': { raised: '26.19.0.49', words: 'modem connection re-established' },
  'modem.gpiChanged': { raised: '26.19.0.24', words: 'modem general-purpose input changed' },
  'meter.relayOpened': {
    raised: '3.31.0.68',
    cleared: '3.31.0.42',
    words: 'meter relay opened (supply disconnected)',
  },
  'meter.relayClosed': { raised: '3.31.0.42', words: 'meter relay closed (supply connected)' },
  'meter.powerReduced': {
    raised: '3.31.139.76',
    cleared: '3.31.139.66',
    words: 'supply capacity limit enabled (power reduction)',
  },
  'meter.statusWordAlarm': { raised: '3.21.0.79', cleared: '3.21.0.28', words: 'meter status word alarm' },
  'meter.commissioned': { raised: '3.6.0.105', words: 'meter commissioned (installed)' },
  'meter.decommissioned': { raised: '3.6.0.212', words: 'meter decommissioned (removed)' },
  'battery.overTemperature': { raised: '2.35.0.93', cleared: '2.35.0.73', words: 'battery over temperature' },
  'battery.underTemperature': {
    raised: '2.35.0.150',
    cleared: '2.35.0.74',
    words: 'battery under temperature',
  },
  'battery.overCurrent': { raised: '2.2.6.93', cleared: '2.2.6.73', words: 'battery over current' },
  'battery.overVoltage': { raised: '2.2.38.93', cleared: '2.2.38.73', words: 'battery over voltage' },
  'battery.underVoltage': { raised: '2.2.38.150', cleared: '2.2.38.74', words: 'battery under voltage' },
  'battery.forcedChargeRequest': {
    raised: '2.2.22.4',
    cleared: '2.2.22.19',
    words: 'battery forced charge requested',
  },
  'battery.fullChargeRequest': {
    raised: '2.2.18.4',
    cleared: '2.2.18.19',
    words: 'battery full charge (calibration) requested',
  },
  'battery.linkLost': { raised: '2.1.0.68', cleared: '2.1.0.49', words: 'battery communication lost' },
  'battery.alarm': { raised: '2.2.0.79', cleared: '2.2.0.28', words: 'battery alarm' },
  'knx.gatewayUnreachable': { raised: '5.1.0.85', cleared: '5.1.0.49', words: 'KNX gateway unreachable' },
  'knx.gatewayReachable': { raised: '5.1.0.49', words: 'KNX gateway reachable again' },
};

export const deviceEventKeys: readonly DeviceEventKey[] = Object.keys(table) as DeviceEventKey[];

/**
 * The EndDeviceEventType code for an event. 'occurred' and 'raised' share a code; 'cleared'
 * has its own where the condition can clear, and throws MF_UNKNOWN_QUANTITY where it cannot
 * (a relay closing is not a condition that clears).
 */
export function eventTypeFor(key: DeviceEventKey, phase: EventPhase): EndDeviceEventTypeCode {
  const entry = table[key];
  if (!entry)
    throw new UnknownQuantityError(`device event "${String(key)}" has no EndDeviceEventType`, { key });
  if (phase !== 'cleared') return entry.raised;
  if (!entry.cleared)
    throw new UnknownQuantityError(`device event "${key}" is a one-off event; it has no 'cleared' phase`, {
      key,
      phase,
    });
  return entry.cleared;
}

/** Reverse lookup of a received code; exact match on all four fields. */
export function eventKeyFor(
  code: EndDeviceEventTypeCode,
): { key: DeviceEventKey; phase: EventPhase } | undefined {
  for (const key of deviceEventKeys) {
    const entry = table[key];
    if (entry.raised === code) return { key, phase: 'raised' };
    if (entry.cleared === code) return { key, phase: 'cleared' };
  }
  return undefined;
}

export function describeEventType(code: EndDeviceEventTypeCode): string | undefined {
  const found = eventKeyFor(code);
  if (!found) return undefined;
  const words = table[found.key].words;
  return found.phase === 'cleared' ? `${words}: cleared` : words;
}

const fourFields = /^\d{1,4}\.\d{1,4}\.\d{1,4}\.\d{1,4}$/;

export function isEndDeviceEventTypeCode(code: string): boolean {
  return fourFields.test(code);
}

/** Work-order controls (EndDeviceControls): connect, disconnect, power reduction on/off. */
export type ControlKind = 'connect' | 'disconnect' | 'powerReductionOn' | 'powerReductionOff';

/**
 * EndDeviceControlType codes we emit: ElectricMeter(3).RCDSwitch(31).n/a(0).Connect(18) /
 * Disconnect(23); supply capacity limit (subDomain 139) Enable(26) / Disable(22).
 */
export const endDeviceControlTypes: Readonly<Record<ControlKind, string>> = {
  connect: '3.31.0.18',
  disconnect: '3.31.0.23',
  powerReductionOn: '3.31.139.26',
  powerReductionOff: '3.31.139.22',
};

/**
 * Parses a received EndDeviceControlType. Senders disagree on the type field (Connexo uses 0,
 * r0ckflite/cim4 2, the seed world 3), so we match domain.subDomain.action and accept any type.
 * Throws MF_CIM_CODE for anything else.
 */
export function controlKindFor(code: string): ControlKind {
  if (!fourFields.test(code.trim()))
    throw new CimCodeError(`EndDeviceControlType "${code}" is not of the form type.domain.subDomain.action`, {
      code,
    });
  const [, domain, subDomain, action] = code.trim().split('.').map(Number);
  for (const [kind, ours] of Object.entries(endDeviceControlTypes) as [ControlKind, string][]) {
    const [, d, s, a] = ours.split('.').map(Number);
    if (d === domain && s === subDomain && a === action) return kind;
  }
  throw new CimCodeError(
    `EndDeviceControlType "${code}" is not supported; use x.31.0.18 (connect), x.31.0.23 (disconnect), x.31.139.26 / x.31.139.22 (power reduction on/off)`,
    { code },
  );
}
