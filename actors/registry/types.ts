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
  /** Index: serials of the meters installed under each concentrator (provisioning 200,000 meters scanned them all per meter). */
  metersByConcentrator: Record<string, string[]>;
  /** Index: serials of the meters ever linked to each usage point, for the POD overlap check. */
  metersByPod: Record<string, string[]>;
};

export function emptyRegistry(): RegistryState {
  return {
    meters: {},
    usagePoints: {},
    links: {},
    concentrators: {},
    modems: {},
    metersByConcentrator: {},
    metersByPod: {},
  };
}

/** Builds the indexes of a state written before they existed (e.g. an older snapshot). */
export function ensureRegistryIndexes(state: RegistryState): RegistryState {
  if (state.metersByConcentrator !== undefined && state.metersByPod !== undefined) return state;
  state.metersByConcentrator = {};
  state.metersByPod = {};
  for (const meter of Object.values(state.meters))
    if (meter.concentratorId !== undefined)
      addToIndex(state.metersByConcentrator, meter.concentratorId, meter.serial);
  for (const links of Object.values(state.links))
    for (const link of links) addToIndex(state.metersByPod, link.pod, link.meterSerial);
  return state;
}

export function addToIndex(index: Record<string, string[]>, key: string, serial: string): void {
  const list = index[key];
  if (!list) index[key] = [serial];
  else if (!list.includes(serial)) list.push(serial);
}

export function removeFromIndex(index: Record<string, string[]>, key: string, serial: string): void {
  const list = index[key];
  if (!list) return;
  const at = list.indexOf(serial);
  if (at >= 0) list.splice(at, 1);
  if (list.length === 0) delete index[key];
}
