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
  const parts: string[] = [];
  eachChunkText(c, options, firstRowIndex, (text) => parts.push(text));
  return parts.length === 1 ? parts[0]! : parts.join('');
}

const utf8 = new TextEncoder();

/**
 * The same lines as UTF-8 bytes, in an ArrayBuffer of their own (it can move to the caller
 * whole). Each chunk's text is encoded into one growing buffer as soon as csv-stringify returns
 * it, so the strings die young: holding every chunk's string to the end of a 30k-row task to
 * join them made them survive scavenges, and cost the worker 10-15% more CPU (session 14).
 */
export function encodeRowColumnsBytes(
  c: RowColumns,
  options: CsvEncodeOptions = {},
  firstRowIndex = 0,
): Uint8Array {
  let out = new Uint8Array(0);
  let length = 0;
  eachChunkText(c, options, firstRowIndex, (text, rowsSoFar) => {
    let rest = text;
    for (;;) {
      const { read, written } = utf8.encodeInto(rest, out.subarray(length));
      length += written;
      if (read === rest.length) return;
      // encodeInto stopped for room (never inside a surrogate pair): grow to the task's rows at
      // the bytes per row so far, plus an eighth, and always enough for this chunk's rest.
      rest = rest.slice(read);
      const expected = Math.ceil(((length + rest.length) / rowsSoFar) * c.count * 1.125);
      const grown = new Uint8Array(Math.max(expected, length + rest.length * 3, out.length * 2));
      grown.set(out.subarray(0, length));
      out = grown;
    }
  });
  return length === out.length ? out : out.slice(0, length);
}

/** Builds each chunk's cells and hands its lines to `emit`, in order. */
function eachChunkText(
  c: RowColumns,
  options: CsvEncodeOptions,
  firstRowIndex: number,
  emit: (text: string, rowsSoFar: number) => void,
): void {
  const columns = checkRowColumns(c);
  if (c.count === 0) return;
  const { kind, tags, numbers, strings } = c;
  const width = columns.length;
  const timeZone = options.timeZone ?? 'UTC';
  const columnKinds = columnKindsOf(kind, timeZone);
  // One set of cell arrays for the whole task, refilled per chunk: csv-stringify keeps nothing
  // of a record once it has returned its line.
  const cells: string[][] = Array.from({ length: Math.min(c.count, encodeChunkRows) }, () =>
    new Array<string>(width).fill(''),
  );
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
    emit(stringifyCells(cells), to);
  }
}
