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

/** Buffers handed to one `writev` call at most (Linux IOV_MAX). */
const maxVectorsPerWrite = 1024;

/**
 * Writes `data` (text, bytes already UTF-8, or a list of byte chunks in order) at byte
 * `offsetBytes` of a staging file, cuts anything after it (the torn tail of an append that
 * failed earlier in this process) and fsyncs. Chunks go to the file in one vectored write
 * (`writev`): the caller never joins them into one buffer, so the bytes the worker pool
 * encoded are not copied on this thread. A short write continues where it stopped; a kill in
 * the middle leaves bytes beyond the committed size, which the next write or `open` cuts.
 * Cost: the bytes written, whatever the file's size. `create` starts a new file.
 * `afterWrite` runs between the write and the fsync (crash tests kill the process there).
 */
export async function writeAtAndSync(
  path: string,
  offsetBytes: number,
  data: string | Uint8Array | readonly Uint8Array[],
  create: boolean,
  afterWrite?: () => void,
): Promise<number> {
  let rest: Uint8Array[] =
    typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : [...data];
  rest = rest.filter((chunk) => chunk.byteLength > 0);
  const fh = await open(path, create ? 'w' : 'r+');
  let position = offsetBytes;
  try {
    while (rest.length > 0) {
      const batch = rest.slice(0, maxVectorsPerWrite);
      const { bytesWritten } = await fh.writev(batch, position);
      if (bytesWritten <= 0) throw new Error(`writev to ${path} wrote nothing at byte ${position}`);
      position += bytesWritten;
      rest = advance(rest, bytesWritten);
    }
    afterWrite?.();
    await fh.truncate(position);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (create) await fsyncPath(dirname(path));
  return position;
}

/** The chunks left after `bytes` of them were written: whole chunks dropped, a partial one as a view. */
function advance(chunks: Uint8Array[], bytes: number): Uint8Array[] {
  let left = bytes;
  let i = 0;
  while (i < chunks.length && left >= chunks[i]!.byteLength) left -= chunks[i++]!.byteLength;
  const out = chunks.slice(i);
  if (left > 0 && out.length > 0) out[0] = out[0]!.subarray(left);
  return out;
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
