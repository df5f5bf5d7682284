/** Registry records: plain data, so the state can be snapshotted and replicated as JSON. */

export const meterStates = ['inStock', 'installed', 'commissioned', 'decommissioned'] as const;
export type MeterState = (typeof meterStates)[number];

export type Meter = {
  serial: string;
  manufacturer: string;
  model: string;
  firmwareVersion: string;
  state: MeterState;
  /** The concentrator the meter is installed under (set from `installed` on). */
  concentratorId?: string;
  insertedAtMs: number;
  stateChangedAtMs: number;
  lastUpdateMs: number;
};

export type UsagePoint = {
  /** The POD identifier. */
  pod: string;
  address?: string;
  contractProfile?: string;
  contractState?: string;
  tariffProfile?: string;
  insertedAtMs: number;
  lastUpdateMs: number;
};

/** A meter installed at a usage point from effectiveFromMs (inclusive) to effectiveToMs (exclusive). */
export type MeterLink = {
  meterSerial: string;
  pod: string;
  effectiveFromMs: number;
  effectiveToMs?: number;
};

export type CommunicationType = 'gprs' | 'ethernet' | 'plc' | 'knx' | 'can-tcp' | 'rs485-tcp';

export type Concentrator = {
  id: string;
  type: string;
  serial: string;
  substation: string;
  transformer: string;
  /** IANA zone, e.g. Europe/Rome: daily closures follow the concentrator's local midnight. */
  timeZone: string;
  communicationType: CommunicationType;
  /** host:port (bridge port of its modem, KNX gateway, CAN/RS485 server). */
  address: string;
  modemImei?: string;
  insertedAtMs: number;
  lastUpdateMs: number;
};

export type Modem = {
  imei: string;
  sim?: string;
  signalDbm?: number;
  assignedPort?: number;
  organization?: string;
  lastUpdateMs: number;
};

export type RegistryState = {
  meters: Record<string, Meter>;
  usagePoints: Record<string, UsagePoint>;
  /** Links per meter serial, ordered by effectiveFromMs. */
  links: Record<string, MeterLink[]>;
  concentrators: Record<string, Concentrator>;
  modems: Record<string, Modem>;
};

export function emptyRegistry(): RegistryState {
  return { meters: {}, usagePoints: {}, links: {}, concentrators: {}, modems: {} };
}
