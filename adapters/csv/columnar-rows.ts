import { MeterfabricError } from '../../core/errors.js';
import type { CsvRow, CsvValue } from './codec.js';
import { type CsvKind, csvFormats } from './formats.js';

/**
 * CSV rows as a compact columnar batch for the worker pool. Cloning thousands of row objects
 * into a worker cost more than encoding them; here each cell is a tag byte plus a float (the
 * number itself, or the index of a string sent once per batch), two typed arrays that move
 * without a copy. The worker builds csv-stringify's cells straight from them
 * (columnar-cells.ts, through the codec's own `formatCell`), so output and errors are identical
 * to the main thread's. `unpackRows` rebuilds rows the codec cannot tell from the originals
 * (same keys in column order, same values, a missing column still missing): the reference the
 * tests hold the packing to.
 * Rows the cells cannot express (a key that is not a column, a value that is not a string,
 * number, boolean, null or undefined) make the batch travel as plain rows instead.
 */
export const CELL_NULL = 0;
export const CELL_UNDEFINED = 1;
export const CELL_NUMBER = 2;
export const CELL_STRING = 3;
export const CELL_TRUE = 4;
export const CELL_FALSE = 5;
/** The row has no such key at all (the codec reports it as a missing column). */
export const CELL_MISSING = 6;

export type RowColumns = {
  kind: CsvKind;
  count: number;
  /** Row-major, `count x columns` cells: one CELL_* tag each. */
  tags: Uint8Array;
  /** Row-major like `tags`: the number of a CELL_NUMBER cell, the string index of a CELL_STRING one. */
  numbers: Float64Array;
  strings: string[];
};

/** What a caller ships: packed cells, or (for rows the cells cannot express) the rows as they are. */
export type PackedRows = { columns: RowColumns } | { kind: CsvKind; rows: CsvRow[] };

/** Upper bound of rows in one packed batch. */
export const maxRowsPerBatch = 1_000_000;

export class RowBatchError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_POOL_BATCH_INVALID', message, details);
    this.name = 'RowBatchError';
  }
}

/**
 * Packs rows of one kind. Returns `{ kind, rows }` unchanged when a row has a key outside the
 * kind's columns or a value of another type, so the codec sees (and rejects) it as it is.
 */
export function packRows(kind: CsvKind, rows: readonly CsvRow[]): PackedRows {
  const format = csvFormats[kind];
  if (!format) throw new RowBatchError(`unknown CSV kind "${String(kind)}"`, { kind });
  const count = rows.length;
  if (count > maxRowsPerBatch)
    throw new RowBatchError(`a packed batch holds at most ${maxRowsPerBatch} rows, got ${count}; split it`, {
      count,
    });
  const columns = format.columns;
  const width = columns.length;
  const tags = new Uint8Array(count * width);
  const numbers = new Float64Array(count * width);
  const strings: string[] = [];
  const stringIndex = new Map<string, number>();
  // Per column the last string and its index: a column mostly repeats its previous value.
  const lastString: (string | undefined)[] = new Array(width).fill(undefined);
  const lastIndex = new Float64Array(width);
  for (let r = 0; r < count; r++) {
    const row = rows[r]!;
    let present = 0;
    for (let c = 0; c < width; c++) {
      const cell = r * width + c;
      const v: unknown = row[columns[c]!];
      switch (typeof v) {
        case 'number':
          tags[cell] = CELL_NUMBER;
          numbers[cell] = v;
          present++;
          break;
        case 'string': {
          tags[cell] = CELL_STRING;
          if (v !== lastString[c]) {
            let i = stringIndex.get(v);
            if (i === undefined) {
              i = strings.length;
              strings.push(v);
              stringIndex.set(v, i);
            }
            lastString[c] = v;
            lastIndex[c] = i;
          }
          numbers[cell] = lastIndex[c]!;
          present++;
          break;
        }
        case 'boolean':
          tags[cell] = v ? CELL_TRUE : CELL_FALSE;
          present++;
          break;
        case 'undefined':
          if (columns[c]! in row) {
            tags[cell] = CELL_UNDEFINED;
            present++;
          } else tags[cell] = CELL_MISSING;
          break;
        default:
          if (v !== null) return { kind, rows: [...rows] };
          tags[cell] = CELL_NULL;
          present++;
      }
    }
    // More keys than columns found: one is not a column; let the codec name it.
    if (Object.keys(row).length !== present) return { kind, rows: [...rows] };
  }
  return { columns: { kind, count, tags, numbers, strings } };
}

/** The cell buffers, for `transferList` (the caller's arrays are unusable afterwards). */
export function rowColumnBuffers(packed: PackedRows): ArrayBuffer[] {
  if (!('columns' in packed)) return [];
  return [packed.columns.tags.buffer as ArrayBuffer, packed.columns.numbers.buffer as ArrayBuffer];
}

/**
 * Checks a packed batch's shapes and every cell's tag and string index (it crossed a thread
 * boundary, so it may be anything): a forged batch is refused whole, before any row is encoded.
 * Returns the kind's columns.
 */
export function checkRowColumns(c: RowColumns): readonly string[] {
  const format = typeof c === 'object' && c !== null ? csvFormats[c.kind] : undefined;
  if (!format) throw new RowBatchError('a packed row batch needs a known CSV kind');
  if (!Number.isSafeInteger(c.count) || c.count < 0 || c.count > maxRowsPerBatch)
    throw new RowBatchError(`a packed row batch needs a count between 0 and ${maxRowsPerBatch}`);
  const columns = format.columns;
  const cells = c.count * columns.length;
  if (!(c.tags instanceof Uint8Array) || c.tags.length !== cells)
    throw new RowBatchError(`tags must be a Uint8Array of ${cells} cells`);
  if (!(c.numbers instanceof Float64Array) || c.numbers.length !== cells)
    throw new RowBatchError(`numbers must be a Float64Array of ${cells} cells`);
  if (!Array.isArray(c.strings)) throw new RowBatchError('a packed row batch needs a string table');
  const { tags, numbers, strings } = c;
  for (let i = 0; i < strings.length; i++)
    if (typeof strings[i] !== 'string')
      throw new RowBatchError(`string ${i} of the batch's table is not a string`);
  // Integer indexes within the table, checked by arithmetic (half the cost of reading the table).
  const stringCount = strings.length;
  for (let at = 0; at < cells; at++) {
    const tag = tags[at]!;
    if (tag > CELL_MISSING)
      throw new RowBatchError(`cell ${at} has an unknown tag ${tag}`, { cell: at, tag });
    if (tag === CELL_STRING) {
      const index = numbers[at]!;
      if (!(index >= 0 && index < stringCount && Math.floor(index) === index))
        throw new RowBatchError(`cell ${at} refers past the batch's string table`, { cell: at });
    }
  }
  return columns;
}

/** The value of a checked cell (CELL_MISSING reads as undefined: test the tag first). */
export function cellValue(tag: number, n: number, strings: readonly string[]): CsvValue {
  switch (tag) {
    case CELL_NUMBER:
      return n;
    case CELL_STRING:
      return strings[n];
    case CELL_TRUE:
      return true;
    case CELL_FALSE:
      return false;
    case CELL_NULL:
      return null;
    default:
      return undefined;
  }
}

/** Rows back from packed cells, after `checkRowColumns`. */
export function unpackRows(c: RowColumns): CsvRow[] {
  const columns = checkRowColumns(c);
  const width = columns.length;
  const { tags, numbers, strings } = c;
  const rows: CsvRow[] = new Array(c.count);
  for (let r = 0; r < c.count; r++) {
    const row: CsvRow = {};
    for (let col = 0; col < width; col++) {
      const at = r * width + col;
      const tag = tags[at]!;
      if (tag !== CELL_MISSING) row[columns[col]!] = cellValue(tag, numbers[at]!, strings);
    }
    rows[r] = row;
  }
  return rows;
}
