/**
 * Create a directory and its missing parents, like `mkdir -p`, WITHOUT Node's
 * `mkdir(path, { recursive: true })`: that one (sync and promise forms alike) loops forever at
 * 100% CPU when a parent exists but mkdir of its child returns ENOENT, which is what procfs
 * does (`meterfabric up --data /proc/nope` hung with no output). Here every level is one plain
 * mkdir, and an ENOENT right under a directory just confirmed to exist is an answer, not a
 * reason to retry.
 *
 * Errors: MF_DIRECTORY_UNCREATABLE (a parent refuses children, a dangling symlink on the way,
 * or too many missing levels) and MF_NOT_A_DIRECTORY (something on the way is a file);
 * anything else (EACCES, EROFS, ENOSPC, ELOOP) is Node's own error, as with `recursive: true`.
 */
import { mkdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, readlink, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { MeterfabricError } from '../errors.js';

/**
 * The most directories one call creates. Data and output directories are a few levels under
 * an existing root; a path missing more than this is a typo (or a runaway loop), and the
 * bound keeps the walk up finite whatever the path.
 */
export const maxMissingDirectoryLevels = 64;

/** Create `path` and any missing parents; resolves once it exists as a directory. */
export async function makeDirectory(path: string): Promise<void> {
  const steps = makeDirectorySteps(path);
  let next = steps.next();
  while (!next.done) next = steps.next(await runAsync(next.value));
}

/** Synchronous `makeDirectory`, for start-up paths that are synchronous already. */
export function makeDirectorySync(path: string): void {
  const steps = makeDirectorySteps(path);
  let next = steps.next();
  while (!next.done) next = steps.next(runSync(next.value));
}

// The walk is written once, as a generator of file-system steps; the two drivers above run
// each step with the sync or the async API and feed the outcome back.
type Step = { op: 'stat'; path: string } | { op: 'mkdir'; path: string } | { op: 'readlink'; path: string };
type StatOutcome = 'directory' | 'other' | 'missing';
type MkdirOutcome = 'created' | 'exists' | 'missing';
type ReadlinkOutcome = { target: string | undefined };
type Outcome = StatOutcome | MkdirOutcome | ReadlinkOutcome;

function* makeDirectorySteps(path: string): Generator<Step, void, Outcome> {
  const target = resolve(path);
  // Up to the nearest existing ancestor, remembering what is missing (deepest first).
  const missing: string[] = [];
  let ancestor = target;
  for (;;) {
    const found = (yield { op: 'stat', path: ancestor }) as StatOutcome;
    if (found === 'directory') break;
    if (found === 'other') throw notADirectory(target, ancestor);
    if (missing.length === maxMissingDirectoryLevels) throw tooManyMissing(target, ancestor);
    missing.push(ancestor);
    const parent = dirname(ancestor);
    // stat of the root itself failing: nothing sensible to create from.
    if (parent === ancestor) throw refusesChildren(target, ancestor, ancestor);
    ancestor = parent;
  }
  // Down again, one level at a time; `parent` is always a directory seen to exist.
  let parent = ancestor;
  for (const dir of missing.reverse()) {
    const made = (yield { op: 'mkdir', path: dir }) as MkdirOutcome;
    if (made === 'missing') throw refusesChildren(target, parent, dir);
    if (made === 'exists') {
      // Another caller made it first (tolerated), or a non-directory / dangling symlink is there.
      const now = (yield { op: 'stat', path: dir }) as StatOutcome;
      if (now === 'other') throw notADirectory(target, dir);
      if (now === 'missing') {
        const link = (yield { op: 'readlink', path: dir }) as ReadlinkOutcome;
        throw danglingLink(target, dir, link.target);
      }
    }
    parent = dir;
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function statOutcome(err: unknown): StatOutcome {
  // ENOTDIR: a component above is a file; the walk up reaches it and reports it by name.
  const code = errorCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
  throw err;
}

function mkdirOutcome(err: unknown): MkdirOutcome {
  const code = errorCode(err);
  if (code === 'EEXIST') return 'exists';
  if (code === 'ENOENT') return 'missing';
  throw err;
}

function runSync(step: Step): Outcome {
  switch (step.op) {
    case 'stat':
      try {
        return statSync(step.path).isDirectory() ? 'directory' : 'other';
      } catch (err) {
        return statOutcome(err);
      }
    case 'mkdir':
      try {
        mkdirSync(step.path);
        return 'created';
      } catch (err) {
        return mkdirOutcome(err);
      }
    case 'readlink':
      try {
        return { target: readlinkSync(step.path) };
      } catch {
        return { target: undefined };
      }
  }
}

async function runAsync(step: Step): Promise<Outcome> {
  switch (step.op) {
    case 'stat':
      try {
        return (await stat(step.path)).isDirectory() ? 'directory' : 'other';
      } catch (err) {
        return statOutcome(err);
      }
    case 'mkdir':
      try {
        await mkdir(step.path);
        return 'created';
      } catch (err) {
        return mkdirOutcome(err);
      }
    case 'readlink':
      try {
        return { target: await readlink(step.path) };
      } catch {
        return { target: undefined };
      }
  }
}

const chooseAnother = 'Choose another directory (or fix the path), then start again.';

function refusesChildren(target: string, parent: string, child: string): MeterfabricError {
  return new MeterfabricError(
    'MF_DIRECTORY_UNCREATABLE',
    `cannot create directory ${target}: ${parent} exists but creating ${child} in it fails with ENOENT, ` +
      `so ${parent} cannot hold new directories: it is on a pseudo filesystem such as /proc ` +
      `(or was removed meanwhile). ` +
      chooseAnother,
    { path: target, ancestor: parent, child, reason: 'parent-refuses-children' },
  );
}

function danglingLink(target: string, dir: string, linkTarget: string | undefined): MeterfabricError {
  const what =
    linkTarget === undefined
      ? `${dir} exists but does not resolve to a directory (a dangling symlink, or it was just removed)`
      : `${dir} is a symlink to ${linkTarget}, which does not exist (is the disk or volume it points to mounted?)`;
  return new MeterfabricError(
    'MF_DIRECTORY_UNCREATABLE',
    `cannot create directory ${target}: ${what}. Fix the link or the mount, or choose another directory.`,
    { path: target, ancestor: dir, linkTarget, reason: 'dangling-symlink' },
  );
}

function tooManyMissing(target: string, ancestor: string): MeterfabricError {
  return new MeterfabricError(
    'MF_DIRECTORY_UNCREATABLE',
    `cannot create directory ${target}: more than ${maxMissingDirectoryLevels} levels of it are missing ` +
      `(${ancestor} and every directory up to the nearest existing one are missing). Check the path for a typo, or create its top directories first.`,
    { path: target, ancestor, reason: 'too-many-missing-levels', maxMissingDirectoryLevels },
  );
}

function notADirectory(target: string, dir: string): MeterfabricError {
  const where = dir === target ? `${target} exists and is not a directory` : `${dir} is not a directory`;
  return new MeterfabricError(
    'MF_NOT_A_DIRECTORY',
    `cannot create directory ${target}: ${where} (ENOTDIR). Move that file away, or choose another directory.`,
    { path: target, notADirectory: dir },
  );
}
