import { copyFile, open, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Whole-file replacement that a concurrent reader can never see half done: write a temp file
 * beside the target, fsync it, rename over the target, fsync the directory (so the rename
 * itself survives a power cut).
 */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function tempPathOf(path: string): string {
  return `${path}.tmp`;
}

export async function replaceAtomically(path: string, content: string): Promise<void> {
  const tmp = tempPathOf(path);
  await writeFile(tmp, content);
  await fsyncPath(tmp);
  await rename(tmp, path);
  await fsyncPath(dirname(path));
}

/**
 * Appends by copy-on-write: copy the current file (a kernel-side copy), append to the copy,
 * fsync, rename over the original. Readers see the old file or the new one, never a part row.
 */
export async function appendAtomically(
  path: string,
  existing: boolean,
  prefix: string,
  text: string,
): Promise<void> {
  const tmp = tempPathOf(path);
  if (existing) await copyFile(path, tmp);
  else await writeFile(tmp, prefix);
  const fh = await open(tmp, 'a');
  try {
    await fh.write(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncPath(dirname(path));
}

/** Restores a file to its first `sizeBytes` (0: removes it), atomically, during recovery. */
export async function truncateAtomically(path: string, sizeBytes: number): Promise<void> {
  if (sizeBytes === 0) {
    await rm(path, { force: true });
    await fsyncPath(dirname(path));
    return;
  }
  const tmp = tempPathOf(path);
  await copyFile(path, tmp);
  await truncate(tmp, sizeBytes);
  await fsyncPath(tmp);
  await rename(tmp, path);
  await fsyncPath(dirname(path));
}
