import { parse } from 'csv-parse/sync';
import { HeadendError, invalidInput } from '../domain/errors.js';
import { applyRegistryCommand, type RegistryCommand, type RegistryEffect } from './commands.js';
import type { CommunicationType, RegistryState } from './types.js';

/**
 * Bulk import into the registry (concentrators cannot be provisioned through CIM): semicolon
 * CSV files with a header, as the SMMePlus files are. Every row becomes registry commands;
 * the whole file is applied to a copy first, so one bad row (reported with its line number)
 * leaves the registry unchanged.
 *
 * concentrators: id;type;serial;substation;transformer;timezone;communicationtype;address[;modemimei]
 * meters:        serialnumber;manufacturer;model;firmware[;concentrator;pod;podfrom;state]
 *                state: instock | installed | commissioned (default commissioned when a concentrator is given)
 */

export const maxImportBytes = 32 * 1024 * 1024;

const concentratorColumns = [
  'id',
  'type',
  'serial',
  'substation',
  'transformer',
  'timezone',
  'communicationtype',
  'address',
];
const meterColumns = ['serialnumber', 'manufacturer', 'model', 'firmware'];

function rowsOf(text: string, required: string[], what: string): Record<string, string>[] {
  if (Buffer.byteLength(text) > maxImportBytes)
    throw invalidInput(`${what} import is larger than ${maxImportBytes} bytes: split it`);
  let rows: Record<string, string>[];
  try {
    rows = parse(text, {
      delimiter: ';',
      columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()),
      skip_empty_lines: true,
      trim: true,
    });
  } catch (err) {
    throw invalidInput(`${what} import is not valid semicolon CSV: ${(err as Error).message}`);
  }
  const header = Object.keys(rows[0] ?? {});
  const missing = required.filter((c) => rows.length > 0 && !header.includes(c));
  if (missing.length > 0)
    throw invalidInput(
      `${what} import lacks column(s) ${missing.join(', ')}; expected ${required.join(';')}`,
    );
  return rows;
}

export function concentratorImportCommands(text: string): RegistryCommand[] {
  return rowsOf(text, concentratorColumns, 'concentrator').map((r) => ({
    type: 'upsertConcentrator',
    id: r.id ?? '',
    concentratorType: r.type ?? '',
    serial: r.serial ?? '',
    substation: r.substation ?? '',
    transformer: r.transformer ?? '',
    timeZone: r.timezone ?? '',
    communicationType: (r.communicationtype ?? '') as CommunicationType,
    address: r.address ?? '',
    ...(r.modemimei ? { modemImei: r.modemimei } : {}),
  }));
}

export function meterImportCommands(text: string): RegistryCommand[][] {
  return rowsOf(text, meterColumns, 'meter').map((r) => {
    const serial = r.serialnumber ?? '';
    const commands: RegistryCommand[] = [
      {
        type: 'upsertMeter',
        serial,
        manufacturer: r.manufacturer ?? '',
        model: r.model ?? '',
        firmwareVersion: r.firmware ?? '',
      },
    ];
    const state = (r.state || (r.concentrator ? 'commissioned' : 'instock')).toLowerCase();
    if (!['instock', 'installed', 'commissioned'].includes(state))
      throw invalidInput(`meter ${serial}: state "${r.state}" must be instock, installed or commissioned`);
    if (state !== 'instock') {
      if (!r.concentrator) throw invalidInput(`meter ${serial}: state ${state} needs a concentrator`);
      commands.push({ type: 'installMeter', serial, concentratorId: r.concentrator });
      if (state === 'commissioned') commands.push({ type: 'commissionMeter', serial });
    }
    if (r.pod) {
      const from = r.podfrom ? Date.parse(r.podfrom) : 0;
      if (!Number.isFinite(from)) throw invalidInput(`meter ${serial}: podfrom "${r.podfrom}" is not a date`);
      commands.push(
        { type: 'upsertUsagePoint', pod: r.pod },
        { type: 'linkMeter', meterSerial: serial, pod: r.pod, effectiveFromMs: from },
      );
    }
    return commands;
  });
}

/**
 * Applies imported rows all or nothing. `rows[i]` are the commands of data line i + 2 (after
 * the header); an error names that line and nothing is changed.
 */
export function applyImport(
  registry: RegistryState,
  rows: readonly (RegistryCommand | readonly RegistryCommand[])[],
  nowMs: number,
): { rows: number; effects: RegistryEffect[] } {
  const trial = structuredClone(registry);
  for (const [i, row] of rows.entries()) {
    for (const command of Array.isArray(row) ? row : [row]) {
      try {
        applyRegistryCommand(trial, command as RegistryCommand, nowMs);
      } catch (err) {
        if (err instanceof HeadendError)
          throw new HeadendError(err.code, `line ${i + 2}: ${err.message}; nothing was imported`, {
            ...err.details,
            line: i + 2,
          });
        throw err;
      }
    }
  }
  const effects: RegistryEffect[] = [];
  for (const row of rows)
    for (const command of Array.isArray(row) ? row : [row])
      effects.push(...applyRegistryCommand(registry, command as RegistryCommand, nowMs).effects);
  return { rows: rows.length, effects };
}
