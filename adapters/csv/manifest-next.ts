import type { PartChange, PartState } from './part-plan.js';
import type { Manifest } from './writer-manifest.js';

/**
 * The writer's manifest after one append's staged changes (pure): sizes of the changed parts;
 * every part of the day but the last is full; open parts of earlier days are full (their day is
 * over). Days beyond `manifestDays` are dropped only once they were closed in `previous`, so a
 * part is never forgotten while its staging file still holds rows. A group commit folds its
 * appends through this one by one, so the result is the manifest serial appends would reach.
 */
export function nextManifest(
  previous: Manifest,
  seq: number,
  day: string,
  changes: readonly PartChange[],
  manifestDays: number,
): Manifest {
  const days: Record<string, PartState[]> = {};
  for (const [d, parts] of Object.entries(previous.days))
    days[d] = parts.map((p) => (d < day && p.state === 'open' ? { ...p, state: 'full' } : { ...p }));
  const parts = days[day] ?? [];
  for (const c of changes) {
    const i = parts.findIndex((p) => p.file === c.file);
    const publishedBytes = i >= 0 ? parts[i]!.publishedBytes : 0;
    const state: PartState = {
      file: c.file,
      sizeBytes: c.sizeAfter,
      rows: c.rowsAfter,
      state: 'open',
      publishedBytes,
    };
    if (i >= 0) parts[i] = state;
    else parts.push(state);
  }
  parts.forEach((p, i) => {
    if (i < parts.length - 1 && p.state === 'open') p.state = 'full';
  });
  days[day] = parts;
  const keep = new Set(Object.keys(days).sort().slice(-manifestDays));
  const wasClosed = (d: string) => (previous.days[d] ?? []).every((p) => p.state === 'closed');
  return {
    ...previous,
    lastSeq: seq,
    days: Object.fromEntries(Object.entries(days).filter(([d]) => keep.has(d) || !wasClosed(d))),
  };
}

/**
 * One write per staging file for a group's changes: contiguous byte ranges in order, as a list
 * of chunks for one vectored write (the pool's bytes are not copied to join them; text is
 * encoded to UTF-8 once, which it must be anyway).
 */
export type StagingWrite = {
  file: string;
  offsetBytes: number;
  chunks: Uint8Array[];
  sizeBytes: number;
  create: boolean;
};

export function stagingWrites(changes: readonly PartChange[]): StagingWrite[] {
  const byFile = new Map<string, { offsetBytes: number; end: number; chunks: Uint8Array[] }>();
  for (const c of changes) {
    const bytes = typeof c.text === 'string' ? [Buffer.from(c.text)] : c.text;
    const w = byFile.get(c.file);
    if (!w) {
      byFile.set(c.file, { offsetBytes: c.sizeBefore, end: c.sizeAfter, chunks: [...bytes] });
      continue;
    }
    // Folded appends continue where the previous one ended; anything else is a planning bug.
    if (c.sizeBefore !== w.end)
      throw new Error(`staging writes of ${c.file} are not contiguous: ${w.end} then ${c.sizeBefore}`);
    w.chunks.push(...bytes);
    w.end = c.sizeAfter;
  }
  return [...byFile].map(([file, w]) => ({
    file,
    offsetBytes: w.offsetBytes,
    chunks: w.chunks,
    sizeBytes: w.end - w.offsetBytes,
    create: w.offsetBytes === 0,
  }));
}
