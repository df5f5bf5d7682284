import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceAtomically } from './atomic-file.js';
import { type CsvEncodeOptions, type CsvRow, dayOf, encodeCsvFile } from './codec.js';
import { type CsvFolder, type CsvKind, csvFormats, type ReportKind } from './formats.js';

/**
 * Extraction and status-word reports: one snapshot file per report and day,
 * `<Report>_yyyy-mm-dd.csv`, replaced atomically when rewritten. `*local` columns are written
 * in `options.timeZone` (default UTC) unless a row was already localized to its own
 * concentrator's zone with `localizeRow`.
 */
export async function writeReport(
  dir: string,
  kind: ReportKind,
  rows: readonly CsvRow[],
  dayMs: number,
  options: CsvEncodeOptions = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${kind}_${dayOf(dayMs)}.csv`);
  await replaceAtomically(path, encodeCsvFile(kind, rows, options));
  return path;
}

/** `<out>/<country or org>/<folder>`, the layout of ARCHITECTURE.md §5. */
export function csvDir(outDir: string, organization: string, kind: CsvKind): string {
  const folder: CsvFolder = csvFormats[kind].folder;
  return join(outDir, organization, folder);
}
