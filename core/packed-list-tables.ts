/**
 * The tables of a packed record list, the cluster's stream-record form (the layout is
 * documented at `PackedList` in actors/hosting/compact-format.ts): marker keys, the run header,
 * and the checks and decoding of the meter, type and context tables. Here in core/ because two
 * layers read the form: the cluster's unpacker (actors/hosting/compact-unpack.ts) and the CIM
 * encoder that reads stream entries without unpacking them (adapters/cim/packed-readings.ts),
 * and an adapter does not depend on actors/. Each caller passes its own `fail`, so each keeps
 * its typed error.
 */

/** Marks a packed list. */
export const listMark = '~rl';
/** Marks an input object that happened to have a marker key: its keys are taken literally. */
export const escapeMark = '~esc';
/** A run's header: meter delta, type, context, t0, step, count. */
export const runHeader = 6;

/** Throws the caller's typed error for a malformed list; never returns. */
export type Fail = (message: string) => never;

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function isStringList(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

/**
 * The meter table's rows back to serials and usage points, in order. Each row is [p, serial
 * suffix] or [p, serial suffix, q, usage point suffix], p (q) being the length of the prefix
 * shared with the previous row's serial (usage point); `onRow` gets the row's index, serial and
 * usage point (undefined for a two-element row). A malformed row fails.
 */
export function forEachMeterRow(
  m: readonly unknown[],
  fail: Fail,
  onRow: (index: number, serial: string, usagePoint: string | undefined) => void,
): void {
  let serial = '';
  let up = '';
  for (let i = 0; i < m.length; i++) {
    const row = m[i];
    const ok =
      Array.isArray(row) &&
      (row.length === 2 || row.length === 4) &&
      Number.isInteger(row[0]) &&
      row[0] >= 0 &&
      row[0] <= serial.length &&
      typeof row[1] === 'string' &&
      (row.length === 2 ||
        (Number.isInteger(row[2]) && row[2] >= 0 && row[2] <= up.length && typeof row[3] === 'string'));
    if (!ok) fail('a meter row must be [prefix, serial suffix] or with [prefix, usage point suffix]');
    serial = serial.slice(0, row[0]) + row[1];
    if (row.length === 4) up = up.slice(0, row[2]) + row[3];
    onRow(i, serial, row.length === 4 ? up : undefined);
  }
}

/** Type rows are [kind, quantity, unit, intervalSeconds | null, qualities | null]. */
export function checkTypeRows(t: readonly unknown[], fail: Fail): void {
  for (const row of t)
    if (
      !Array.isArray(row) ||
      row.length !== 5 ||
      typeof row[0] !== 'string' ||
      !isObject(row[1]) ||
      typeof row[2] !== 'string' ||
      (row[3] !== null && typeof row[3] !== 'number') ||
      (row[4] !== null && !isStringList(row[4]))
    )
      fail('a type row must be [kind, quantity, unit, intervalSeconds|null, qualities|null]');
}

/** Context rows are [concentratorId, collectedAtMs] or [concentratorId, collectedAtMs, correlationId]. */
export function checkContextRows(c: readonly unknown[], fail: Fail): void {
  for (const row of c)
    if (
      !Array.isArray(row) ||
      (row.length !== 2 && row.length !== 3) ||
      typeof row[0] !== 'string' ||
      typeof row[1] !== 'number' ||
      (row.length === 3 && typeof row[2] !== 'string')
    )
      fail('a context row must be [concentratorId, collectedAtMs] or with a correlationId');
}
