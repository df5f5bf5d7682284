import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { MeterfabricError } from '../../core/errors.js';
import { formatValue } from '../cim/xml-build.js';
import { CSV_DELIMITER, CSV_RECORD_DELIMITER, type CsvKind, csvFormats } from './formats.js';
import { assertTimeZone, formatCsvLocalTimestamp, isCsvTimestampText } from './local-time.js';

/**
 * Pure CSV encoding/decoding of SMMePlus rows with csv-stringify / csv-parse. A row is a
 * record keyed by the kind's exact column names; instants are ms since the epoch and are
 * written `yyyy-mm-dd HH:MM:SS.fff` (UTC); numbers in plain decimal notation with '.';
 * booleans True/False (the .NET spelling the seed's XML shows); null/undefined as empty.
 * `*local` columns are wall-clock time of a zone: `localizeRow(kind, row, zone)` writes one
 * row's in its concentrator's zone, `{ timeZone }` a whole batch's; UTC when neither is given.
 */
export type CsvValue = string | number | boolean | null | undefined;
export type CsvRow = Record<string, CsvValue>;

export class CsvRowError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_CSV_ROW', message, details);
    this.name = 'CsvRowError';
  }
}

export class CsvHeaderError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_CSV_HEADER', message, details);
    this.name = 'CsvHeaderError';
  }
}

const DAY_MS = 86_400_000;
/** `00`..`99`, and `000`..`999`: the digits of a timestamp's fields without padStart per cell. */
const twoDigits = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const threeDigits = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * `yyyy-mm-dd HH:MM:SS.fff` in UTC: exactly what `Date.prototype.toISOString` gives, cut to
 * that form. The calendar fields come from arithmetic (days -> civil date, the algorithm of
 * H. Hinnant's "chrono-compatible low-level date algorithms") instead of a Date and an ISO
 * string per cell (a Date and three strings of garbage each): that was ~30% of the CSV
 * encode's CPU, on the main thread and in the pool's workers alike. Years outside
 * 0000-9999 (which toISOString writes with a sign and six digits) and instants a Date cannot
 * hold go the Date way, so they come out (or fail) exactly as before.
 */
export function formatCsvTimestamp(ms: number): string {
  const t = Math.trunc(ms); // a Date's time value drops the fraction towards zero
  const days = Math.floor(t / DAY_MS);
  let rest = t - days * DAY_MS;
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  if (!(year >= 0 && year <= 9999) || Math.abs(t) > 8.64e15) return formatViaDate(ms);
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  return `${twoDigits[Math.floor(year / 100)]}${twoDigits[year % 100]}-${twoDigits[month]}-${twoDigits[day]} ${twoDigits[hours]}:${twoDigits[minutes]}:${twoDigits[seconds]}.${threeDigits[rest - seconds * 1000]}`;
}

function formatViaDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

const timestampPattern = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/;

export function parseCsvTimestamp(text: string): number {
  const m = timestampPattern.exec(text);
  if (!m) throw new CsvRowError(`"${text}" is not a timestamp of the form yyyy-mm-dd HH:MM:SS.fff`, { text });
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
}

/** `yyyy-mm-dd` of an instant, UTC: the day part of file names. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function formatCsvNumber(n: number): string {
  if (!Number.isFinite(n)) throw new CsvRowError(`cannot write ${n} into a CSV file`);
  return formatValue(n);
}

/** Options of the encoders: the zone of `*local` columns whose cells are still instants (default UTC). */
export type CsvEncodeOptions = { timeZone?: string };

/** How a column's cells are written: as given, as a UTC instant, or on a zone's wall clock. */
export type ColumnKind = 'plain' | 'time' | 'local';

/** Each column's kind, in column order; checks `timeZone` when the kind has `*local` columns. */
export function columnKindsOf(kind: CsvKind, timeZone: string): ColumnKind[] {
  const { columns, timeColumns, localTimeColumns } = csvFormats[kind];
  if (localTimeColumns.length > 0) assertTimeZone(timeZone);
  return columns.map((c) =>
    localTimeColumns.includes(c) ? 'local' : timeColumns.includes(c) ? 'time' : 'plain',
  );
}

/**
 * One cell's text, or a CsvRowError naming the row and column. Shared by `rowCells` (row
 * objects) and the pool's columnar path (columnar-cells.ts), so both write and refuse alike.
 */
export function formatCell(
  kind: CsvKind,
  column: string,
  value: CsvValue,
  columnKind: ColumnKind,
  rowIndex: number,
  timeZone: string,
): string {
  if (value === null || value === undefined) return '';
  if (columnKind === 'local') {
    // Already on the wall clock of the row's own zone (localizeRow).
    if (typeof value === 'string' && isCsvTimestampText(value)) return value;
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new CsvRowError(
        `${kind} row ${rowIndex}: column ${column} must be an instant in ms or a local yyyy-mm-dd HH:MM:SS.fff, got ${JSON.stringify(value)}`,
        { kind, column, rowIndex },
      );
    return timeZone === 'UTC' ? formatCsvTimestamp(value) : formatCsvLocalTimestamp(value, timeZone);
  }
  if (columnKind === 'time') {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new CsvRowError(
        `${kind} row ${rowIndex}: column ${column} must be an instant in ms, got ${JSON.stringify(value)}`,
        {
          kind,
          column,
          rowIndex,
        },
      );
    return formatCsvTimestamp(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new CsvRowError(`${kind} row ${rowIndex}: column ${column} is ${value}`, {
        kind,
        column,
        rowIndex,
      });
    return formatCsvNumber(value);
  }
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return value;
}

/**
 * Rows -> cell arrays in column order; a missing or unknown column is an error naming it.
 * `firstRowIndex`: the index errors give the first row (the rows being a slice of a larger batch).
 */
export function rowCells(
  kind: CsvKind,
  rows: readonly CsvRow[],
  options: CsvEncodeOptions = {},
  firstRowIndex = 0,
): string[][] {
  const { columns } = csvFormats[kind];
  const timeZone = options.timeZone ?? 'UTC';
  const columnKinds = columnKindsOf(kind, timeZone);
  return rows.map((row, i) => {
    const rowIndex = firstRowIndex + i;
    for (const key of Object.keys(row))
      if (!columns.includes(key))
        throw new CsvRowError(
          `${kind} row ${rowIndex}: unknown column "${key}" (columns: ${columns.join(';')})`,
          {
            kind,
            column: key,
            rowIndex,
          },
        );
    return columns.map((column, i) => {
      if (!(column in row))
        throw new CsvRowError(`${kind} row ${rowIndex}: column "${column}" is missing`, {
          kind,
          column,
          rowIndex,
        });
      return formatCell(kind, column, row[column], columnKinds[i]!, rowIndex, timeZone);
    });
  });
}

export function headerLine(kind: CsvKind): string {
  return `${csvFormats[kind].columns.join(CSV_DELIMITER)}${CSV_RECORD_DELIMITER}`;
}

/**
 * Encodes rows (no header) as whole lines, each ending in the record delimiter. `firstRowIndex`:
 * the index errors give the first row (when `rows` is a slice of a caller's larger batch).
 */
export function encodeCsvRows(
  kind: CsvKind,
  rows: readonly CsvRow[],
  options: CsvEncodeOptions = {},
  firstRowIndex = 0,
): string {
  if (rows.length === 0) return '';
  if (rows.length <= encodeChunkRows) return stringifyCells(rowCells(kind, rows, options, firstRowIndex));
  // In chunks: each chunk's cell arrays and csv-stringify's temporaries die young (scavenged),
  // where one call over a day's rows promotes them all and makes V8 mark the old generation on
  // the second core. Rows carry no state between them, so the lines are the same.
  const parts: string[] = [];
  for (let from = 0; from < rows.length; from += encodeChunkRows) {
    const chunk = rows.slice(from, from + encodeChunkRows);
    parts.push(stringifyCells(rowCells(kind, chunk, options, firstRowIndex + from)));
  }
  return parts.join('');
}

/** Rows per csv-stringify call in `encodeCsvRows` (and in the pool's columnar path). */
export const encodeChunkRows = 256;

/** Cell arrays -> lines, by csv-stringify (quoting, delimiters): the one place lines are made. */
export function stringifyCells(cells: string[][]): string {
  return stringify(cells, { delimiter: CSV_DELIMITER, record_delimiter: CSV_RECORD_DELIMITER });
}

/** A complete file: header then rows. */
export function encodeCsvFile(
  kind: CsvKind,
  rows: readonly CsvRow[],
  options: CsvEncodeOptions = {},
): string {
  return headerLine(kind) + encodeCsvRows(kind, rows, options);
}

/**
 * A copy of `row` with its `*local` instants written on the wall clock of `timeZone` (the
 * IANA zone of the row's concentrator or meter), so one file can hold rows of many zones.
 * Other columns, `*utc` ones included, are untouched. Throws MF_CSV_TIME_ZONE for an unknown zone.
 */
export function localizeRow(kind: CsvKind, row: CsvRow, timeZone: string): CsvRow {
  const { localTimeColumns } = csvFormats[kind];
  if (localTimeColumns.length === 0) return row;
  assertTimeZone(timeZone);
  const out: CsvRow = { ...row };
  for (const column of localTimeColumns) {
    const value = row[column];
    if (typeof value === 'number' && Number.isFinite(value))
      out[column] = formatCsvLocalTimestamp(value, timeZone);
  }
  return out;
}

/** Reads a file back: checks the header is exactly the kind's, returns rows of strings. */
export function parseCsvFile(kind: CsvKind, text: string): Record<string, string>[] {
  const records = parse(text, {
    delimiter: CSV_DELIMITER,
    relax_column_count: false,
    skip_empty_lines: true,
  }) as string[][];
  const [header, ...rows] = records;
  const expected = csvFormats[kind].columns;
  if (!header || header.join(CSV_DELIMITER) !== expected.join(CSV_DELIMITER))
    throw new CsvHeaderError(
      `${kind} file header is "${header?.join(CSV_DELIMITER) ?? ''}", expected "${expected.join(CSV_DELIMITER)}"`,
      {
        kind,
      },
    );
  return rows.map((cells) => Object.fromEntries(expected.map((c, i) => [c, cells[i] ?? ''])));
}
