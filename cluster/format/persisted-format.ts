import { MeterfabricError } from '../../core/errors.js';

/**
 * The persisted forms a build reads and writes, numbered. A new form is a cluster-wide feature
 * gate: a node advertises the highest format it reads in its membership registration, and
 * writers use the lowest format every live node reads (`clusterWriteFormat`), so a cluster
 * with one old node keeps writing the old form and switches once the last node is upgraded.
 *
 * - 1 (`plain`): actor snapshots hold the behaviour's state itself (`{ user, recent }`);
 *   records are `PersistedRecord` (`{ idem, event, result }`). Every build reads it. A
 *   registration without `readsFormat` (builds before this gate) means format 1.
 * - 2 (`compactSnapshots`): a snapshot may hold the state in the behaviour's compact form
 *   (`snapshotOf`), marked `s: 1` in `EncodedEnvelope` (commit 2d1ec81). Builds before that
 *   commit read such a snapshot as the state itself and misread it silently, which is why the
 *   form is written only once every live node reads format 2. Records are unchanged.
 *
 * A future form (3 and up) must carry its number as `f: <format>` in the snapshot or record it
 * changes and write the store's mark (`store-format.ts`), so that this build refuses it with
 * MF_PERSISTED_FORMAT instead of misreading it.
 */
export const persistedFormats = { plain: 1, compactSnapshots: 2 } as const;

/** The highest persisted format this build reads (and so may write). */
export const maxReadFormat = 2;

/** The field a snapshot or record of a future form (>= 3) carries its format number in. */
export const formatField = 'f';

/** A record, snapshot or store in a form above what this node reads: never misread, refuse. */
export class PersistedFormatError extends MeterfabricError {
  constructor(what: string, format: number | string, details: Record<string, unknown> = {}) {
    super(
      'MF_PERSISTED_FORMAT',
      `${what} is in persisted format ${format}, but this node reads formats up to ${maxReadFormat}: ` +
        'it was written by a newer build; run that build (or newer) here, nothing was read or changed',
      { ...details, format, readsFormat: maxReadFormat },
    );
    this.name = 'PersistedFormatError';
  }
}

/** The format a registration advertises: absent or malformed means format 1 (older builds). */
export function advertisedFormat(record: { readsFormat?: unknown }): number {
  const f = record.readsFormat;
  return typeof f === 'number' && Number.isInteger(f) && f >= persistedFormats.plain
    ? f
    : persistedFormats.plain;
}

/**
 * The format the cluster writes: the lowest format every live registered node reads, capped
 * at what this build reads. With no registrations known (yet) it is format 1, the safe side.
 */
export function clusterWriteFormat(records: Iterable<{ readsFormat?: unknown }>): number {
  let lowest = Number.POSITIVE_INFINITY;
  for (const r of records) lowest = Math.min(lowest, advertisedFormat(r));
  if (lowest === Number.POSITIVE_INFINITY) return persistedFormats.plain;
  return Math.min(lowest, maxReadFormat);
}

/** Refuses `format` when it is above what this build reads (or not a format number at all). */
export function checkReadable(what: string, format: unknown, details: Record<string, unknown> = {}): void {
  if (format === undefined) return;
  if (typeof format !== 'number' || !Number.isInteger(format) || format < persistedFormats.plain) {
    throw new PersistedFormatError(what, String(format), details);
  }
  if (format > maxReadFormat) throw new PersistedFormatError(what, format, details);
}
