/**
 * What field adapters hand to the head-end: readings and device events in one neutral shape.
 * Adapters name the measured quantity in their own terms (an OBIS code, a KNX DPT, a battery
 * quantity); the single CIM mapping table (adapters/cim/reading-type-map.ts) turns that into
 * a CIM ReadingType, so no adapter carries CIM codes of its own.
 */

export type BatteryQuantity =
  | 'voltage'
  | 'current'
  | 'stateOfCharge'
  | 'stateOfHealth'
  | 'temperature'
  | 'chargedEnergy'
  | 'dischargedEnergy'
  | 'chargeVoltageLimit'
  | 'chargeCurrentLimit'
  | 'dischargeCurrentLimit';

/** The internal name of a measured quantity, by the protocol that produced it. */
export type InternalQuantity =
  | { source: 'obis'; code: string } // e.g. '1.8.0', '1.8.1', '32.7.0'
  | { source: 'knx'; dpt: string; quantity?: string } // e.g. dpt '13.010', '14.056'
  | { source: 'battery'; quantity: BatteryQuantity }
  | { source: 'profile'; quantity: 'activeImportInterval' | 'activeExportInterval' }; // load-profile intervals

export type ReadingKind = 'register' | 'interval' | 'dailyClosure' | 'instantaneous';

export type CollectedReading = {
  /** Meter serial number (the asset); for a battery pack or KNX channel, its configured id. */
  meterSerial: string;
  /** Usage point (POD) when the adapter knows it; the head-end fills it from the registry otherwise. */
  usagePoint?: string;
  kind: ReadingKind;
  quantity: InternalQuantity;
  value: number;
  /** Unit as measured (kWh, Wh, W, V, A, %, degC ...). */
  unit: string;
  /** When the value was measured (for intervals: the interval end), ms since the Unix epoch, UTC. */
  timestampMs: number;
  /** Interval length for kind 'interval', in seconds. */
  intervalSeconds?: number;
  /** ReadingQualityType codes (e.g. '1.0.0' valid, '1.4.5' estimated ...) when not simply valid. */
  qualities?: string[];
};

export type DeviceKind = 'meter' | 'concentrator' | 'modem' | 'knx-gateway' | 'battery';

/** Internal event names; adapters/cim/event-type-map.ts maps each to an EndDeviceEventType code. */
export type DeviceEventKey =
  | 'concentrator.unreachable'
  | 'concentrator.reachable'
  | 'modem.disconnected'
  | 'modem.reconnected'
  | 'modem.gpiChanged'
  | 'meter.relayOpened'
  | 'meter.relayClosed'
  | 'meter.powerReduced'
  | 'meter.statusWordAlarm'
  | 'meter.commissioned'
  | 'meter.decommissioned'
  | 'battery.overTemperature'
  | 'battery.underTemperature'
  | 'battery.overCurrent'
  | 'battery.overVoltage'
  | 'battery.underVoltage'
  | 'battery.forcedChargeRequest'
  | 'battery.fullChargeRequest'
  | 'battery.linkLost'
  | 'battery.alarm'
  | 'knx.gatewayUnreachable'
  | 'knx.gatewayReachable';

export type DeviceEvent = {
  deviceId: string;
  deviceKind: DeviceKind;
  key: DeviceEventKey;
  /** 'raised' and 'cleared' for conditions that hold for a while; 'occurred' for one-off events. */
  phase: 'raised' | 'cleared' | 'occurred';
  timestampMs: number;
  /** Free name/value details (become EndDeviceEventDetails). */
  details?: Record<string, string>;
  /** CorrelationID of the CIM request that caused the event, if any. */
  correlationId?: string;
};
