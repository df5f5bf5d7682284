import { join } from 'node:path';
import { makeDirectory } from '../../core/fs/make-directory.js';
import { replaceAtomically } from './atomic-file.js';
import { type CsvEncodeOptions, type CsvRow, dayOf, encodeCsvFile, localizeRow } from './codec.js';
import { type CsvFolder, type CsvKind, csvFormats, type ReportKind } from './formats.js';

export type ReportOptions = CsvEncodeOptions & {
  /** The IANA zone of a row's `*local` columns (its concentrator's); undefined: `timeZone`, else UTC. */
  timeZoneOf?: (row: CsvRow) => string | undefined;
};

/**
 * Extraction and status-word reports: one snapshot file per report and day,
 * `<Report>_yyyy-mm-dd.csv`, replaced atomically when rewritten. `*local` columns are written
 * on the wall clock of `options.timeZoneOf(row)`, else `options.timeZone`, else UTC.
 */
export async function writeReport(
  dir: string,
  kind: ReportKind,
  rows: readonly CsvRow[],
  dayMs: number,
  options: ReportOptions = {},
): Promise<string> {
  const { timeZoneOf, ...encode } = options;
  const localized = timeZoneOf
    ? rows.map((row) => {
        const zone = timeZoneOf(row);
        return zone === undefined ? row : localizeRow(kind, row, zone);
      })
    : rows;
  const text = encodeCsvFile(kind, localized, encode);
  await makeDirectory(dir);
  const path = join(dir, `${kind}_${dayOf(dayMs)}.csv`);
  await replaceAtomically(path, text);
  return path;
}

/** `<out>/<country or org>/<folder>`, the layout of ARCHITECTURE.md §5. */
export function csvDir(outDir: string, organization: string, kind: CsvKind): string {
  const folder: CsvFolder = csvFormats[kind].folder;
  return join(outDir, organization, folder);
}
