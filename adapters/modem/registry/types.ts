/**
 * The modem registry's records: what iRZ Collector keeps about a modem (IMEI, SIM, signal,
 * firmware, GPI inputs, state) plus the bridge port it owns and the organization it belongs to.
 */
export type ModemRecord = {
  imei: string;
  organization: string;
  /** The bridge port polling software connects to; fixed for the life of the record. */
  port: number;
  iccid?: string;
  /** AT+CSQ signal quality 0..31 (99 unknown). */
  signalCsq?: number;
  firmware?: string;
  /** GPI input states, index 0 = GPI1. */
  gpi?: boolean[];
  online: boolean;
  connectedSinceMs?: number;
  lastSeenMs?: number;
  bytesFromModem: number;
  bytesToModem: number;
  createdAtMs: number;
  /** Free text from an import (address, meter, ...). */
  note?: string;
};

export type Organization = {
  id: string;
  name: string;
  /** CIDR ranges (IPv4 or IPv6) whose polling clients may use this organization's bridge ports. */
  allowedClients: string[];
  /** The collector endpoint its modems dial first, and the one they use when it is unreachable. */
  mainServer?: string;
  backupServer?: string;
};

export type PortRange = { first: number; last: number };

/** Fields an import may set; live state (online, counters) is never imported. */
export type ModemImport = Pick<ModemRecord, 'imei' | 'organization'> &
  Partial<Pick<ModemRecord, 'port' | 'iccid' | 'firmware' | 'note'>>;

export type ModemPatch = Partial<Omit<ModemRecord, 'imei' | 'port' | 'createdAtMs'>>;
