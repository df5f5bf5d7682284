import {
  type CsvEncodeOptions,
  CsvRowError,
  columnKindsOf,
  encodeChunkRows,
  formatCell,
  stringifyCells,
} from './codec.js';
import { CELL_MISSING, cellValue, checkRowColumns, type RowColumns } from './columnar-rows.js';

/**
 * Packed rows (columnar-rows.ts) -> CSV lines, for the pool's workers: csv-stringify's cell
 * arrays are built straight from the tags and numbers, without rebuilding a row object per row
 * first (unpacking cost a quarter of the encode, and the row objects were most of the worker's
 * garbage). Each cell goes through the codec's own `formatCell`, in the same row and column
 * order as `rowCells`, and csv-stringify gets the same cells in the same chunks of
 * `encodeChunkRows` rows, so the text and every error (naming the row's index counted from
 * `firstRowIndex`) are exactly `encodeCsvRows`'s. The one check of `rowCells` not repeated here,
 * a key outside the kind's columns, cannot arise: `packRows` sends such rows unpacked.
 */
export function encodeRowColumns(c: RowColumns, options: CsvEncodeOptions = {}, firstRowIndex = 0): string {
  const columns = checkRowColumns(c);
  if (c.count === 0) return '';
  const { kind, tags, numbers, strings } = c;
  const width = columns.length;
  const timeZone = options.timeZone ?? 'UTC';
  const columnKinds = columnKindsOf(kind, timeZone);
  // One set of cell arrays for the whole task, refilled per chunk: csv-stringify keeps nothing
  // of a record once it has returned its line.
  const cells: string[][] = Array.from({ length: Math.min(c.count, encodeChunkRows) }, () =>
    new Array<string>(width).fill(''),
  );
  const parts: string[] = [];
  for (let from = 0; from < c.count; from += encodeChunkRows) {
    const to = Math.min(c.count, from + encodeChunkRows);
    if (to - from < cells.length) cells.length = to - from;
    for (let r = from; r < to; r++) {
      const rowIndex = firstRowIndex + r;
      const line = cells[r - from]!;
      for (let col = 0, at = r * width; col < width; col++, at++) {
        const tag = tags[at]!;
        if (tag === CELL_MISSING)
          throw new CsvRowError(`${kind} row ${rowIndex}: column "${columns[col]}" is missing`, {
            kind,
            column: columns[col],
            rowIndex,
          });
        line[col] = formatCell(
          kind,
          columns[col]!,
          cellValue(tag, numbers[at]!, strings),
          columnKinds[col]!,
          rowIndex,
          timeZone,
        );
      }
    }
    parts.push(stringifyCells(cells));
  }
  return parts.length === 1 ? parts[0]! : parts.join('');
}
