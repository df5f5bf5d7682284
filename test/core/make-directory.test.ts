import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { maxMissingDirectoryLevels } from '../../core/fs/make-directory.js';
import { distPath } from '../../core/paths.js';

/**
 * makeDirectory / makeDirectorySync, run in a child process (support/make-directory-child.mjs,
 * on the compiled module: `npm test` builds first; by hand `npx tsc -p tsconfig.build.json`).
 * Node's `mkdir(p, { recursive: true })` loops forever under /proc; in a child, a regression
 * is a killed child and a failed test instead of a hung vitest.
 */
const childScript = join(import.meta.dirname, 'support', 'make-directory-child.mjs');
/** A correct run takes well under a second; the margin is for a loaded 2-core machine. */
const childTimeoutMs = 8_000;

type Outcome = { ok: boolean; code?: string; message?: string; details?: Record<string, unknown> };
type Mode = 'sync' | 'async';

async function runChild(mode: Mode, paths: string[]): Promise<Outcome[]> {
  const child = spawn(process.execPath, [childScript, mode, ...paths], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: childTimeoutMs,
    killSignal: 'SIGKILL',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  );
  expect(signal, `child killed after ${childTimeoutMs} ms (mkdir looping?); stderr: ${stderr}`).toBeNull();
  expect(code, `child failed; stderr: ${stderr}`).toBe(0);
  return JSON.parse(stdout) as Outcome[];
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mf-make-directory-'));
  dirs.push(dir);
  return dir;
}

const isDirectory = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();

describe('makeDirectory', () => {
  it('has the compiled module to run (npm run build)', () => {
    expect(existsSync(distPath('core', 'fs', 'make-directory.js'))).toBe(true);
  });

  for (const mode of ['sync', 'async'] as const) {
    describe(mode, () => {
      it.runIf(existsSync('/proc/self'))(
        'a path under /proc fails at once with MF_DIRECTORY_UNCREATABLE naming /proc (Node loops forever)',
        async () => {
          const [result] = await runChild(mode, ['/proc/mf-nope/data/n1']);
          expect(result?.code).toBe('MF_DIRECTORY_UNCREATABLE');
          expect(result?.details).toMatchObject({ path: '/proc/mf-nope/data/n1', ancestor: '/proc' });
          expect(result?.message).toContain('/proc/mf-nope/data/n1');
          expect(result?.message).toContain('pseudo filesystem');
          expect(result?.message).toContain('Choose another directory');
        },
      );

      it('a path under a dangling symlink fails with MF_DIRECTORY_UNCREATABLE naming the link and its target', async () => {
        const dir = tempDir();
        const link = join(dir, 'mnt-data');
        const gone = join(dir, 'unmounted', 'data');
        symlinkSync(gone, link);
        const [under, itself] = await runChild(mode, [join(link, 'n1', 'replicas'), link]);
        for (const [result, path] of [
          [under, join(link, 'n1', 'replicas')],
          [itself, link],
        ] as const) {
          expect(result?.code).toBe('MF_DIRECTORY_UNCREATABLE');
          expect(result?.details).toMatchObject({ path, ancestor: link, reason: 'dangling-symlink' });
          expect(result?.message).toContain(`${link} is a symlink to ${gone}, which does not exist`);
        }
        expect(existsSync(gone)).toBe(false);
      });

      it('creates every missing level below the nearest existing ancestor', async () => {
        const dir = tempDir();
        const deep = join(dir, 'a', 'b', 'c', 'd');
        expect(await runChild(mode, [deep])).toEqual([{ ok: true }]);
        expect(isDirectory(deep)).toBe(true);
      });

      it('an existing directory is no error (twice in a row, and a relative path)', async () => {
        const dir = tempDir();
        expect(await runChild(mode, [dir, dir, '.'])).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
      });

      it('a regular file on the way, or at the path itself, is MF_NOT_A_DIRECTORY naming it', async () => {
        const dir = tempDir();
        const file = join(dir, 'file');
        writeFileSync(file, 'x');
        const [below, itself] = await runChild(mode, [join(file, 'x', 'y'), file]);
        expect(below).toMatchObject({ code: 'MF_NOT_A_DIRECTORY', details: { notADirectory: file } });
        expect(below?.message).toContain(`${file} is not a directory`);
        expect(itself).toMatchObject({ code: 'MF_NOT_A_DIRECTORY', details: { notADirectory: file } });
        expect(itself?.message).toContain(`${file} exists and is not a directory`);
      });

      it(`more than maxMissingDirectoryLevels (${maxMissingDirectoryLevels}) missing levels is MF_DIRECTORY_UNCREATABLE, nothing created`, async () => {
        const dir = tempDir();
        const levels = Array.from({ length: maxMissingDirectoryLevels + 1 }, (_, i) => `l${i}`);
        const [tooDeep] = await runChild(mode, [join(dir, ...levels)]);
        expect(tooDeep).toMatchObject({
          code: 'MF_DIRECTORY_UNCREATABLE',
          details: { reason: 'too-many-missing-levels' },
        });
        expect(existsSync(join(dir, 'l0'))).toBe(false);
        // Exactly the limit is fine.
        const [atLimit] = await runChild(mode, [join(dir, ...levels.slice(1))]);
        expect(atLimit).toEqual({ ok: true });
      });
    });
  }

  it('concurrent calls creating overlapping trees all succeed (EEXIST races are tolerated)', async () => {
    const dir = tempDir();
    // 4 shared trunks, 12 leaves each, every path also asked twice: many callers race on the
    // same missing levels, in one process (async) and across processes (sync and async).
    const paths = Array.from({ length: 48 }, (_, i) => join(dir, 'tree', `t${i % 4}`, 'x', 'y', `leaf${i}`));
    const twice = [...paths, ...paths];
    const runs = await Promise.all([
      runChild('async', twice),
      runChild('async', twice),
      runChild('sync', twice),
      runChild('sync', [...twice].reverse()),
    ]);
    for (const results of runs) expect(results.filter((r) => !r.ok)).toEqual([]);
    for (const path of paths) expect(isDirectory(path)).toBe(true);
  });
});
