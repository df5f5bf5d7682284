import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

/**
 * Guard: product code creates directories with core/fs/make-directory.ts, never with Node's
 * `mkdir(p, { recursive: true })`, which loops forever at 100% CPU when a parent exists but
 * refuses children (/proc, /sys): `meterfabric up --data /proc/nope` hung with no output.
 */
const productFolders = ['actors', 'adapters', 'cluster', 'core', 'storage', 'chaos', 'bin'];
const sourceFile = /\.(ts|js|mjs|cjs)$/;

/** Files allowed to keep a recursive mkdir, each with the reason. */
const allowed = new Map<string, string>([]);

/** Calls whose `recursive: true` is harmless (removal, copy, listing), not directory creation. */
const harmlessRecursiveCalls = new Set(['rm', 'rmSync', 'cp', 'cpSync', 'readdir', 'readdirSync', 'watch']);

/**
 * Source with comment lines blanked (lines starting with `//`, `/*` or `*`), line numbers kept.
 * Line-based on purpose: a string such as 'adapters/**' cannot open a "comment" that hides code.
 */
function withoutComments(source: string): string {
  return source.replace(/^[ \t]*(\/\/|\/\*|\*).*$/gm, '');
}

function lineOf(source: string, index: number): number {
  return source.slice(0, index).split('\n').length;
}

/** The text between the parenthesis at `open` and its match. */
function argumentsAt(source: string, open: number): string {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    if (source[i] === '(') depth++;
    else if (source[i] === ')' && --depth === 0) return source.slice(open + 1, i);
  }
  return source.slice(open + 1);
}

/** The name of the call whose argument list holds `index`, if any (`rm` in `rm(p, { ... })`). */
function enclosingCall(source: string, index: number): string | undefined {
  let depth = 0;
  for (let i = index; i >= 0; i--) {
    const c = source[i];
    if (c === ')') depth++;
    else if (c === '(') {
      if (depth === 0) return /([A-Za-z_$][\w$]*)\s*$/.exec(source.slice(Math.max(0, i - 80), i))?.[1];
      depth--;
    }
  }
  return undefined;
}

/**
 * Line numbers of directory creation that may be recursive: an mkdir/mkdirSync call whose
 * arguments mention `recursive`, and any `recursive: true` outside a harmless call's argument
 * list (options built in a variable and passed to mkdir later).
 */
function recursiveMkdirLines(source: string): number[] {
  const code = withoutComments(source);
  const lines = new Set<number>();
  for (const call of code.matchAll(/\bmkdir(?:Sync)?\s*\(/g)) {
    const open = call.index + call[0].length - 1;
    if (/\brecursive\b/.test(argumentsAt(code, open))) lines.add(lineOf(code, call.index));
  }
  for (const option of code.matchAll(/\brecursive\s*:\s*true\b/g)) {
    const call = enclosingCall(code, option.index);
    if (call === undefined || !harmlessRecursiveCalls.has(call)) lines.add(lineOf(code, option.index));
  }
  return [...lines].sort((a, b) => a - b);
}

function productFiles(): string[] {
  return productFolders.flatMap((folder) =>
    readdirSync(join(packageRoot, folder), { recursive: true, encoding: 'utf8' })
      .filter((path) => sourceFile.test(path))
      .map((path) => join(folder, path)),
  );
}

describe('no recursive mkdir in product code', () => {
  it('finds the recursive mkdir forms it is meant to catch, and nothing else', () => {
    expect(recursiveMkdirLines('mkdirSync(dir, { recursive: true });')).toEqual([1]);
    expect(
      recursiveMkdirLines('await fs.promises.mkdir(\n  join(a, b),\n  { recursive: true },\n);'),
    ).toEqual([1, 3]);
    expect(recursiveMkdirLines('mkdir(dir, { mode: 0o700, recursive });')).toEqual([1]);
    expect(recursiveMkdirLines('const options = { recursive: true };\nmkdirSync(dir, options);')).toEqual([
      1,
    ]);
    expect(recursiveMkdirLines('rmSync(dir, { recursive: true, force: true });')).toEqual([]);
    expect(recursiveMkdirLines("await rm(join(dir, 'x'), { recursive: true });")).toEqual([]);
    expect(recursiveMkdirLines('mkdirSync(dir);\nawait mkdir(join(a, b), 0o700);')).toEqual([]);
    expect(
      recursiveMkdirLines('// mkdirSync(dir, { recursive: true })\n/* mkdir(d, { recursive: true }) */'),
    ).toEqual([]);
  });

  it('no file in actors/ adapters/ cluster/ core/ storage/ chaos/ bin/ calls mkdir with recursive: true', () => {
    const files = productFiles();
    expect(files).toContain('core/fs/make-directory.ts');
    const found = files
      .filter((file) => !allowed.has(file))
      .flatMap((file) =>
        recursiveMkdirLines(readFileSync(join(packageRoot, file), 'utf8')).map((line) => `${file}:${line}`),
      );
    expect(found, 'use makeDirectory / makeDirectorySync from core/fs/make-directory.ts').toEqual([]);
  });

  it('every allow-listed file still has a recursive mkdir (remove the entry once it is switched)', () => {
    const stale = [...allowed.keys()].filter(
      (file) => recursiveMkdirLines(readFileSync(join(packageRoot, file), 'utf8')).length === 0,
    );
    expect(stale).toEqual([]);
  });
});
