import { ModemError } from '../errors.js';
import type { ModemPatch, ModemRecord, PortRange } from './types.js';

/**
 * The rules every registry store applies the same way, whatever it persists to: what a new
 * modem's record holds, what a patch may change, which port a new modem gets. Pure.
 */

/** A modem seen (or imported) for the first time: offline, no traffic counted yet. */
export function newModemRecord(imei: string, organization: string, port: number, nowMs: number): ModemRecord {
  return {
    imei,
    organization,
    port,
    online: false,
    bytesFromModem: 0,
    bytesToModem: 0,
    createdAtMs: nowMs,
  };
}

/** `existing` with `patch` applied; a modem's identity (IMEI, port, creation time) never changes. */
export function patchedModemRecord(existing: ModemRecord, patch: ModemPatch): ModemRecord {
  return {
    ...existing,
    ...patch,
    imei: existing.imei,
    port: existing.port,
    createdAtMs: existing.createdAtMs,
  };
}

/** The lowest port of `range` not `taken`; MF_MODEM_PORT_RANGE_EXHAUSTED when every one is. */
export function lowestFreePort(range: PortRange, taken: (port: number) => boolean): number {
  for (let p = range.first; p <= range.last; p++) if (!taken(p)) return p;
  throw new ModemError(
    'MF_MODEM_PORT_RANGE_EXHAUSTED',
    `every bridge port in ${range.first}-${range.last} is assigned; widen the port range`,
    { ...range },
  );
}
