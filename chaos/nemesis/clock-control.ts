/**
 * The runner's side of the clock nemesis: writes the rate files that nodes started with
 * `MF_CHAOS_CLOCK_CONTROL=<dir>` read for their clock (`cluster/node/chaos-clock.ts`,
 * test-only). The nodes inherit the variable from this process, so a run that may skew
 * clocks sets it before the cluster starts (`ensureClockControl`, done by the runner).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MeterfabricError } from '../../core/errors.js';
import { makeDirectorySync } from '../../core/fs/make-directory.js';

export const clockControlVariable = 'MF_CHAOS_CLOCK_CONTROL';

/**
 * Points MF_CHAOS_CLOCK_CONTROL at `dir` (this run's own folder, so no rate file of an earlier
 * run applies) for nodes started from now on.
 */
export function ensureClockControl(dir: string): string {
  process.env[clockControlVariable] = dir;
  makeDirectorySync(dir);
  return dir;
}

function controlDir(): string {
  const dir = process.env[clockControlVariable];
  if (!dir) {
    throw new MeterfabricError(
      'MF_CHAOS_UNSUPPORTED',
      `the clock nemesis needs ${clockControlVariable}=<folder> set before the cluster starts (the nodes read their clock rate there)`,
    );
  }
  return dir;
}

/** `node`'s clock runs at `rate` × real time from now on (1 = normal). */
export function setClockRate(node: string, rate: number): void {
  const dir = controlDir();
  makeDirectorySync(dir);
  writeFileSync(join(dir, `${node}.rate`), `${rate}\n`);
}

/** `node`'s clock back to real rate (its rate file is removed); it stays behind, never jumps. */
export function resetClockRate(node: string): void {
  rmSync(join(controlDir(), `${node}.rate`), { force: true });
}
