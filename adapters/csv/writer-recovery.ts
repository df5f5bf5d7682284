import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeAndSync, sizeOrAbsent, truncateAndSync } from './atomic-file.js';
import type { PartState } from './part-plan.js';
import { CsvWriterStateError, type Manifest, stagingName } from './writer-manifest.js';

/**
 * What a DailyCsvWriter does on open, after a crash at any point of an append or a publish:
 * - staging bytes beyond a part's committed size belong to an append that never committed:
 *   cut them (the caller replays that batch, so nothing is lost or written twice);
 * - a staging file of a part the manifest does not know (a new part of an uncommitted append)
 *   and temp files of an unfinished publish are removed;
 * - a full part whose staging file is gone was renamed into place: it is closed;
 * - anything else that does not match (a staging file shorter than what was committed, a
 *   visible file of a size this writer never published) stops the writer with MF_CSV_STATE.
 * Visible files are brought up to date afterwards by the writer's publish step.
 */
export async function recoverParts(
  dir: string,
  loaded: Manifest,
): Promise<{ manifest: Manifest; changed: boolean }> {
  let changed = false;
  const days: Record<string, PartState[]> = {};
  const known = new Set<string>();
  for (const [day, parts] of Object.entries(loaded.days)) {
    const out: PartState[] = [];
    for (const part of parts) {
      const p = { ...part };
      const stagingPath = join(dir, stagingName(p.file));
      known.add(stagingName(p.file));
      const stagedBytes = await sizeOrAbsent(stagingPath);
      const visibleBytes = await sizeOrAbsent(join(dir, p.file));
      if (p.state === 'closed' || (p.state === 'full' && stagedBytes < 0)) {
        if (visibleBytes !== p.sizeBytes) throw changedBehindOurBack(p, visibleBytes);
        if (p.state === 'full') {
          p.state = 'closed';
          p.publishedBytes = p.sizeBytes;
          changed = true;
        }
      } else {
        if (stagedBytes < p.sizeBytes)
          throw new CsvWriterStateError(
            `${stagingName(p.file)} holds ${Math.max(0, stagedBytes)} bytes but ${p.sizeBytes} were committed (fsynced) to it; it was changed or removed by something else. Restore it or move the folder aside`,
            { file: p.file, stagedBytes, committedBytes: p.sizeBytes },
          );
        if (stagedBytes > p.sizeBytes) await truncateAndSync(stagingPath, p.sizeBytes);
        if (visibleBytes >= 0 && visibleBytes !== p.publishedBytes && visibleBytes !== p.sizeBytes)
          throw changedBehindOurBack(p, visibleBytes);
        if (Math.max(0, visibleBytes) !== p.publishedBytes) {
          p.publishedBytes = Math.max(0, visibleBytes);
          changed = true;
        }
      }
      out.push(p);
    }
    days[day] = out;
  }
  await removeLeftovers(dir, loaded, known);
  return { manifest: { ...loaded, days }, changed };
}

function changedBehindOurBack(p: PartState, visibleBytes: number): CsvWriterStateError {
  return new CsvWriterStateError(
    `${p.file} is ${visibleBytes < 0 ? 'missing' : `${visibleBytes} bytes`} but the writer published ${p.publishedBytes} of ${p.sizeBytes} committed bytes; something else changed it. Move it aside to continue`,
    { file: p.file, sizeBytes: visibleBytes, expectedBytes: p.sizeBytes },
  );
}

/** Staging files of uncommitted new parts and temp files of unfinished publishes, this kind and server only. */
async function removeLeftovers(dir: string, m: Manifest, known: ReadonlySet<string>): Promise<void> {
  const part = `${m.kind}_\\d{4}-\\d{2}-\\d{2}_${m.server}(?:\\.part\\d+)?\\.csv`;
  const staging = new RegExp(`^\\.${part}\\.staging$`);
  const temp = new RegExp(`^${part}\\.tmp$`);
  for (const name of await readdir(dir))
    if ((staging.test(name) && !known.has(name)) || temp.test(name)) await removeAndSync(join(dir, name));
}
