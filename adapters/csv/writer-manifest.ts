import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MeterfabricError } from '../../core/errors.js';
import { commitReplacement, replaceAtomically, stageReplacement } from './atomic-file.js';
import type { DailyKind } from './formats.js';
import type { PartState } from './part-plan.js';

/**
 * The DailyCsvWriter's record of what it has durably written: the last input seq and, per day,
 * each part's committed size. Replaced atomically (temp + fsync + rename), so it is always the
 * state after some whole append, never between two.
 */
export type Manifest = {
  version: 2;
  kind: DailyKind;
  server: string;
  lastSeq: number;
  days: Record<string, PartState[]>;
};

export class CsvWriterStateError extends MeterfabricError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MF_CSV_STATE', message, details);
    this.name = 'CsvWriterStateError';
  }
}

type ManifestV1 = {
  version: 1;
  kind: DailyKind;
  server: string;
  lastSeq: number;
  days: Record<string, { file: string; sizeBytes: number; rows: number }[]>;
  intent?: unknown;
};

export function manifestPath(dir: string, kind: DailyKind, server: string): string {
  return join(dir, `.${kind}_${server}.manifest.json`);
}

/** The hidden append-only file behind a visible part; readers never look at dot files. */
export function stagingName(file: string): string {
  return `.${file}.staging`;
}

export function emptyManifest(kind: DailyKind, server: string): Manifest {
  return { version: 2, kind, server, lastSeq: -1, days: {} };
}

export async function loadManifest(dir: string, kind: DailyKind, server: string): Promise<Manifest> {
  const path = manifestPath(dir, kind, server);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyManifest(kind, server);
    throw new CsvWriterStateError(`cannot read CSV writer manifest ${path}: ${(err as Error).message}`, {
      path,
    });
  }
  let parsed: Manifest | ManifestV1;
  try {
    parsed = JSON.parse(text) as Manifest | ManifestV1;
  } catch (err) {
    throw new CsvWriterStateError(
      `CSV writer manifest ${path} is not valid JSON (${(err as Error).message}); it is replaced atomically, so something else wrote it. Restore it or move the folder aside`,
      { path },
    );
  }
  if (parsed.kind !== kind || parsed.server !== server)
    throw new CsvWriterStateError(`manifest ${path} belongs to ${parsed.kind}/${parsed.server}`, { path });
  if (parsed.version === 2) return parsed;
  // Version 1 (copy-on-write writer): its files are complete and visible; keep them as closed
  // parts, so new rows of those days go to a new part and nothing old is rewritten.
  if (parsed.intent !== undefined)
    throw new CsvWriterStateError(
      `manifest ${path} holds an interrupted append of the previous writer version; open it once with that version to resolve it`,
      { path },
    );
  const days: Record<string, PartState[]> = {};
  for (const [day, parts] of Object.entries(parsed.days))
    days[day] = parts.map((p) => ({ ...p, state: 'closed' as const, publishedBytes: p.sizeBytes }));
  return { version: 2, kind, server, lastSeq: parsed.lastSeq, days };
}

export async function saveManifest(dir: string, manifest: Manifest): Promise<void> {
  await replaceAtomically(manifestPath(dir, manifest.kind, manifest.server), JSON.stringify(manifest));
}

/**
 * `saveManifest` in two steps: `stageManifest` makes the new manifest durable beside the old
 * one (may run while the rows it commits are still being fsynced), `commitManifest` renames it
 * into place; call it only once those rows are durable.
 */
export async function stageManifest(dir: string, manifest: Manifest): Promise<void> {
  await stageReplacement(manifestPath(dir, manifest.kind, manifest.server), JSON.stringify(manifest));
}

export async function commitManifest(
  dir: string,
  manifest: Pick<Manifest, 'kind' | 'server'>,
): Promise<void> {
  await commitReplacement(manifestPath(dir, manifest.kind, manifest.server));
}
