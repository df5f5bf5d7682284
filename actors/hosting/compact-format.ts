import { MeterfabricError } from '../../core/errors.js';
import { listMark } from '../../core/packed-list-tables.js';
import type { TLogRecord } from '../tlog/records.js';

/**
 * The packed layout shared by the packer (compact-records.ts) and the unpacker
 * (compact-unpack.ts): marker keys, the list's shape, the typed error, and small predicates.
 */

// The marker keys, the run header and the table checks are shared with the CIM encoder's
// reader of this form (core/packed-list-tables.ts).
export { escapeMark, isObject, isStringList, listMark, runHeader } from '../../core/packed-list-tables.js';

export type Level = 0 | 1 | 2;

/**
 * A packed list: tables, then runs of readings of one meter, type and context whose instants
 * are t0 + k * step, then the list's other elements with their indexes.
 */
export type PackedList = {
  [listMark]: Level;
  /** Length of the whole list. */
  n: number;
  /**
   * Meters, each as [p, serial suffix] or [p, serial suffix, q, usage point suffix]: p (q) is
   * the length of the prefix shared with the previous row's serial (usage point), since a
   * concentrator's serials mostly differ in their last digits.
   */
  m: ([number, string] | [number, string, number, string])[];
  /** [kind, quantity, unit, intervalSeconds | null, qualities | null]. */
  t: [string, unknown, string, number | null, string[] | null][];
  /** Record context, levels 1 and 2: [concentratorId, collectedAtMs] or with correlationId. */
  c: ([string, number] | [string, number, string])[];
  /**
   * The runs, flat: per run `meter - previous run's meter, type, context, t0, stepMs, count`,
   * then `count` values. t0 is the difference to the previous run's t0 (the first: to 0),
   * unless `a` is set: then every t0 is absolute (instants that are not safe integers).
   */
  r: number[];
  a?: 1;
  /** [index, packed element] of the elements that are not readings of this level. */
  o: [number, unknown][];
};

export class CompactRecordsError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_COMPACT_INVALID', message, details);
    this.name = 'CompactRecordsError';
  }
}

export const maxDepth = 200;

export type ReadingRecord = Extract<TLogRecord, { type: 'reading' }>;
