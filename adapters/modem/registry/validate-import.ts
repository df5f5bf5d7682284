import { ModemError } from '../errors.js';
import { isValidImei } from '../identification.js';
import { newModemRecord } from './records.js';
import type { ModemImport, ModemRecord, PortRange } from './types.js';

/**
 * Checks an import as a whole against the registry's current state, pure. Returns the records
 * to store (port -1 = allocate one) or throws MF_MODEM_IMPORT_INVALID naming every bad row.
 */
export function validateImport(
  rows: readonly ModemImport[],
  range: PortRange,
  nowMs: number,
  existing: ReadonlyMap<string, ModemRecord>,
  portHolders: ReadonlyMap<number, string>,
): ModemRecord[] {
  const problems: string[] = [];
  const seenImei = new Set<string>();
  const claimed = new Map<number, string>();
  const records: ModemRecord[] = [];
  for (const [i, row] of rows.entries()) {
    const where = `row ${i + 1} (${row.imei})`;
    if (!isValidImei(row.imei))
      problems.push(`${where}: IMEI must be 15 digits with a valid Luhn check digit`);
    if (seenImei.has(row.imei)) problems.push(`${where}: IMEI appears twice in the file`);
    seenImei.add(row.imei);
    if (!row.organization) problems.push(`${where}: organization is empty`);
    const known = existing.get(row.imei);
    if (row.port !== undefined) {
      if (!Number.isInteger(row.port) || row.port < range.first || row.port > range.last) {
        problems.push(`${where}: port ${row.port} is outside the bridge range ${range.first}-${range.last}`);
      } else if (known && known.port !== row.port) {
        problems.push(`${where}: already registered on port ${known.port}; ports never move`);
      } else {
        const holder = portHolders.get(row.port) ?? claimed.get(row.port);
        if (holder !== undefined && holder !== row.imei)
          problems.push(`${where}: port ${row.port} belongs to IMEI ${holder}`);
      }
      claimed.set(row.port, row.imei);
    }
    const base = known ?? newModemRecord(row.imei, row.organization, row.port ?? -1, nowMs);
    const record: ModemRecord = { ...base, organization: row.organization };
    if (row.iccid !== undefined) record.iccid = row.iccid;
    if (row.firmware !== undefined) record.firmware = row.firmware;
    if (row.note !== undefined) record.note = row.note;
    records.push(record);
  }
  if (problems.length > 0) {
    throw new ModemError(
      'MF_MODEM_IMPORT_INVALID',
      `import refused, nothing was stored:\n  - ${problems.join('\n  - ')}`,
      {
        problems,
      },
    );
  }
  return records;
}
