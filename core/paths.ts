import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root, found by walking up from this module to package.json. Sources run from
 * `./core` under vitest and from `./dist/core` once built; assets (protos, worker scripts)
 * are addressed from the root so both layouts resolve the same files.
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'protos'))) return dir;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('meterfabric: cannot locate the package root (package.json + protos/)');
    dir = parent;
  }
}

export const packageRoot: string = findPackageRoot();

/** Absolute path of a `.proto` contract under protos/. */
export function protoPath(name: string): string {
  return join(packageRoot, 'protos', name);
}

/** Absolute path of a compiled module under dist/ (piscina workers and child processes need JS). */
export function distPath(...segments: string[]): string {
  return join(packageRoot, 'dist', ...segments);
}
