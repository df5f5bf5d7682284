import { constants } from 'node:fs';
import { copyFile, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The few file operations the CSV writers are built from. Each says what a concurrent reader
 * and a crash can leave behind; the writer's manifest decides which of them may run when.
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

/** Size of a file, or -1 when there is none. */
export async function sizeOrAbsent(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw err;
  }
}

/**
 * Whole-file replacement that a concurrent reader can never see half done: write a temp file
 * beside the target, fsync it, rename over the target, fsync the directory (so the rename
 * itself survives a power cut).
 */
export async function replaceAtomically(path: string, content: string): Promise<void> {
  await stageReplacement(path, content);
  await commitReplacement(path);
}

/**
 * The first half of `replaceAtomically`: the new content durable in the temp file, the target
 * untouched. Split so a caller can overlap it with other fsyncs the rename must wait for
 * (the CSV writer's staged rows), and rename only once all of them are done.
 */
export async function stageReplacement(path: string, content: string): Promise<void> {
  // One handle for write and fsync: each file operation is a round trip to libuv's thread
  // pool, which on a busy machine costs more than the small write itself.
  const fh = await open(tempPathOf(path), 'w');
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The second half: rename the staged temp file over the target and fsync the directory. */
export async function commitReplacement(path: string): Promise<void> {
  await rename(tempPathOf(path), path);
  await fsyncPath(dirname(path));
}

/**
 * Writes `text` (or bytes already UTF-8) at byte `offsetBytes` of a staging file, cuts anything after it (the torn
 * tail of an append that failed earlier in this process) and fsyncs. Cost: the bytes
 * written, whatever the file's size. `create` starts a new file.
 */
export async function writeAtAndSync(
  path: string,
  offsetBytes: number,
  text: string | Uint8Array,
  create: boolean,
): Promise<number> {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const fh = await open(path, create ? 'w' : 'r+');
  try {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, offsetBytes + done);
      done += bytesWritten;
    }
    await fh.truncate(offsetBytes + bytes.length);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (create) await fsyncPath(dirname(path));
  return offsetBytes + bytes.length;
}

/** Cuts a file back to `sizeBytes` and fsyncs it (recovery of a torn staging tail). */
export async function truncateAndSync(path: string, sizeBytes: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(sizeBytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Publishes a copy of `source` at `target`: copy (a reflink where the filesystem can share
 * blocks, btrfs/XFS: O(1); a kernel-side copy otherwise, ext4: O(file size)), fsync, rename
 * over the target, fsync the directory. A reader sees the previous copy or this one.
 */
export async function publishCopy(source: string, target: string, beforeRename?: () => void): Promise<void> {
  const tmp = tempPathOf(target);
  await copyFile(source, tmp, constants.COPYFILE_FICLONE);
  await fsyncPath(tmp);
  beforeRename?.();
  await rename(tmp, target);
  await fsyncPath(dirname(target));
}

/** Publishes `source` itself at `target` (O(1)); `source` is gone afterwards. */
export async function publishRename(source: string, target: string): Promise<void> {
  await rename(source, target);
  await fsyncPath(dirname(target));
}

export async function removeAndSync(path: string): Promise<void> {
  await rm(path, { force: true });
  await fsyncPath(dirname(path));
}
