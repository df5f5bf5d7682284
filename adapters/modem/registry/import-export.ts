import { readFile, stat } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import ExcelJS from 'exceljs';
import { ModemError } from '../errors.js';
import type { ModemImport, ModemRecord } from './types.js';

/**
 * Modem lists in and out: CSV (comma or semicolon) and XLSX (iRZ's "add modems from an Excel
 * file"). Row parsing is pure and all-or-nothing: one bad row refuses the whole file, and the
 * error lists every bad row with its number.
 */
export const maxImportBytes = 10 * 1024 * 1024;
export const maxImportRows = 100_000;

const columnAliases: Record<string, keyof ModemImport> = {
  imei: 'imei',
  organization: 'organization',
  organisation: 'organization',
  org: 'organization',
  port: 'port',
  iccid: 'iccid',
  sim: 'iccid',
  firmware: 'firmware',
  note: 'note',
  comment: 'note',
};

/** Turns header-keyed rows into imports; throws MF_MODEM_IMPORT_INVALID naming every bad row. */
export function rowsToImports(
  rows: ReadonlyArray<Record<string, string>>,
  defaultOrganization?: string,
): ModemImport[] {
  if (rows.length > maxImportRows) {
    throw new ModemError(
      'MF_MODEM_IMPORT_INVALID',
      `file has ${rows.length} rows; at most ${maxImportRows} per import`,
    );
  }
  const problems: string[] = [];
  const out: ModemImport[] = [];
  rows.forEach((raw, i) => {
    const row: Partial<Record<keyof ModemImport, string>> = {};
    for (const [name, value] of Object.entries(raw)) {
      const key = columnAliases[name.trim().toLowerCase()];
      if (key) row[key] = String(value ?? '').trim();
    }
    const line = i + 2; // header is line 1
    const imei = row.imei ?? '';
    if (!/^\d{15}$/.test(imei)) {
      problems.push(`line ${line}: IMEI "${imei}" must be 15 digits`);
      return;
    }
    const organization = row.organization || defaultOrganization || '';
    if (!organization) problems.push(`line ${line}: organization is empty and no default was given`);
    const item: ModemImport = { imei, organization };
    if (row.port) {
      const port = Number(row.port);
      if (!Number.isInteger(port)) problems.push(`line ${line}: port "${row.port}" is not a number`);
      item.port = port;
    }
    if (row.iccid) {
      if (!/^\d{18,22}F?$/.test(row.iccid))
        problems.push(`line ${line}: ICCID "${row.iccid}" must be 18 to 22 digits`);
      item.iccid = row.iccid;
    }
    if (row.firmware) item.firmware = row.firmware.slice(0, 64);
    if (row.note) item.note = row.note.slice(0, 256);
    out.push(item);
  });
  if (!rows.length) problems.push('the file has no data rows');
  if (problems.length > 0) {
    throw new ModemError(
      'MF_MODEM_IMPORT_INVALID',
      `import refused, nothing was stored:\n  - ${problems.join('\n  - ')}`,
      {
        problems,
      },
    );
  }
  return out;
}

export function parseModemCsv(text: string): Array<Record<string, string>> {
  try {
    return parse(text, {
      columns: true,
      delimiter: [';', ','],
      skip_empty_lines: true,
      trim: true,
      bom: true,
    }) as Array<Record<string, string>>;
  } catch (err) {
    throw new ModemError(
      'MF_MODEM_IMPORT_INVALID',
      `CSV is malformed: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
}

function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value.toFixed(0) : String(value);
  if (typeof value === 'object' && 'text' in value) return String(value.text);
  if (typeof value === 'object' && 'result' in value) return String(value.result ?? '');
  if (typeof value === 'object' && 'richText' in value) return value.richText.map((r) => r.text).join('');
  return String(value);
}

export async function parseModemXlsx(bytes: Buffer): Promise<Array<Record<string, string>>> {
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch (err) {
    throw new ModemError(
      'MF_MODEM_IMPORT_INVALID',
      `XLSX is malformed: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
  const sheet = workbook.worksheets[0];
  if (!sheet) throw new ModemError('MF_MODEM_IMPORT_INVALID', 'the workbook has no worksheet');
  const header: string[] = [];
  sheet.getRow(1).eachCell((cell, col) => {
    header[col] = cellText(cell.value);
  });
  const rows: Array<Record<string, string>> = [];
  sheet.eachRow((row, n) => {
    if (n === 1) return;
    const record: Record<string, string> = {};
    let any = false;
    row.eachCell((cell, col) => {
      const name = header[col];
      if (!name) return;
      record[name] = cellText(cell.value);
      if (record[name]) any = true;
    });
    if (any) rows.push(record);
  });
  return rows;
}

/** Reads a CSV or XLSX modem list (by extension), bounded in size. */
export async function readModemFile(path: string, defaultOrganization?: string): Promise<ModemImport[]> {
  const { size } = await stat(path);
  if (size > maxImportBytes) {
    throw new ModemError(
      'MF_MODEM_IMPORT_INVALID',
      `${path} is ${size} bytes; at most ${maxImportBytes} per import`,
    );
  }
  const bytes = await readFile(path);
  const rows = /\.xlsx$/i.test(path) ? await parseModemXlsx(bytes) : parseModemCsv(bytes.toString('utf8'));
  return rowsToImports(rows, defaultOrganization);
}

export const exportColumns = [
  'imei',
  'organization',
  'port',
  'online',
  'iccid',
  'signalCsq',
  'firmware',
  'gpi',
  'connectedSince',
  'lastSeen',
  'bytesFromModem',
  'bytesToModem',
  'note',
] as const;

const iso = (ms?: number) => (ms === undefined ? '' : new Date(ms).toISOString());

export function modemsToCsv(records: readonly ModemRecord[]): string {
  return stringify(
    records.map((r) => [
      r.imei,
      r.organization,
      r.port,
      r.online ? 'yes' : 'no',
      r.iccid ?? '',
      r.signalCsq ?? '',
      r.firmware ?? '',
      r.gpi ? r.gpi.map(Number).join('') : '',
      iso(r.connectedSinceMs),
      iso(r.lastSeenMs),
      r.bytesFromModem,
      r.bytesToModem,
      r.note ?? '',
    ]),
    { header: true, columns: [...exportColumns], delimiter: ';' },
  );
}
